"""Import a real behaviour dataset (Online Retail, Taobao, REES46 or the generic CSV) into the event store."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from shop.progress import advancing, progress_bar
from tracking.importers import CHUNK_ROWS, FORMATS, ImportFailed, default_path, events_import


class Command(BaseCommand):
    help = (
        "Import events from a dataset file; re-importing the same file stores nothing twice. "
        "The generic CSV format is described in docs/import_events.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", dest="format_name", choices=sorted(FORMATS), required=True)
        parser.add_argument("--path", type=Path, default=None, help="Default: the shared dataset file of the format.")
        parser.add_argument("--limit", type=int, default=None, help="Read only the first N rows of the file.")
        parser.add_argument(
            "--dataset",
            default=None,
            help="Name the deterministic ids are made under (default: the format). Files of one dataset share it; "
            "different datasets must not, or their visitors would be taken for the same people.",
        )
        parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS, help="Rows per transaction.")

    def handle(self, *args, format_name, path, limit, dataset, chunk_rows, **options):
        path = path or default_path(format_name)
        if path is None:
            raise CommandError(f"--format {format_name} needs --path.")
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1.")
        if chunk_rows < 1:
            raise CommandError("--chunk-rows must be at least 1.")
        with progress_bar(self, total=None, desc=f"Importing {format_name}", unit="row") as bar:
            try:
                result = events_import(
                    format_name=format_name,
                    path=path,
                    limit=limit,
                    dataset=dataset,
                    chunk_rows=chunk_rows,
                    progress=advancing(bar),
                )
            except (ImportFailed, DatabaseError) as exc:
                raise CommandError(f"Importing {path} failed: {exc}") from exc
        skipped = sum(result.skipped.values())
        reasons = ", ".join(f"{reason} {count:,}" for reason, count in result.skipped.most_common())
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {path}: {result.rows_read:,} rows read, {result.written:,} new events, "
                f"{result.duplicates:,} duplicates, {skipped:,} rows skipped{f' ({reasons})' if reasons else ''}; "
                f"{len(result.partitions_created)} partitions created; "
                f"{result.seconds:.1f} s, {result.rows_per_second:,.0f} rows/s."
            )
        )
