"""Import the real catalog of the UCI Online Retail dataset: one product per stock code."""

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from shop.catalog.importers import CatalogImportError, online_retail_default_path
from shop.catalog.services import retail
from shop.progress import advancing, progress_bar


class Command(BaseCommand):
    help = "Create or refresh products from the Online Retail transactions file (upsert by stock code)."

    def add_arguments(self, parser):
        parser.add_argument("--path", type=Path, default=None, help=f"Default: {online_retail_default_path()}")
        parser.add_argument("--limit", type=int, default=None, help="Read only the first N rows of the file.")

    def handle(self, *args, path: Path | None, limit: int | None, **options):
        path = path or online_retail_default_path()
        if not path.is_file():
            raise CommandError(f"No catalog file at {path}. Put the shared datasets beside the project or use --path.")
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1.")
        started = time.monotonic()
        with progress_bar(self, total=None, desc="Importing products") as bar:
            try:
                result = retail.catalog_import_online_retail(path=path, limit=limit, progress=advancing(bar))
            except (CatalogImportError, DatabaseError) as exc:
                raise CommandError(f"Importing {path} failed: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {result.products} products ({result.products_created} new) in {result.categories} "
                f"categories ({result.categories_created} new) of {result.departments} departments from "
                f"{result.rows_used:,} of {result.rows_read:,} rows; {result.codes_skipped} stock codes skipped; "
                f"{time.monotonic() - started:.1f} s."
            )
        )
