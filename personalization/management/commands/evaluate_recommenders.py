"""Evaluate the recommenders offline under the protocol of EVALUATION.md: a table, a CSV, a JSON and an SVG chart."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from personalization.evaluation import datasets
from personalization.evaluation.protocol import MAX_PREFIXES, PROTOCOLS, REVEALS
from personalization.evaluation.report import run_write, table_lines
from personalization.evaluation.runner import SPLITS, candidates_from, evaluation_run
from personalization.evaluation.tuning import tuning_candidates, tuning_lines, tuning_run, tuning_write
from personalization.recommenders.base import EVENT_WEIGHTS
from shop.progress import progress_bar

SOURCES = ("file", "events")


class Command(BaseCommand):
    help = (
        "Evaluate recommenders on a dataset (temporal split, last 20% of time is test) and compare them with "
        "popularity: P@10, R@20, NDCG@10, HR@10, coverage@10, hits, training time and memory."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", choices=datasets.FORMATS, help="The dataset's format (file source).")
        parser.add_argument("--path", type=Path, help="The dataset file; defaults to the shared copy.")
        parser.add_argument("--source", choices=SOURCES, default="file", help="A file, or the stored event table.")
        parser.add_argument("--algorithms", default="", help="Comma-separated names; all registered when empty.")
        parser.add_argument("--user-key", choices=datasets.USER_KEYS, default="visitor", help="Who a user is.")
        parser.add_argument(
            "--targets",
            default=",".join(sorted(datasets.DEFAULT_TARGETS)),
            help="Comma-separated event names whose test items are the truth (e.g. purchase,add_to_cart).",
        )
        parser.add_argument(
            "--protocol",
            choices=PROTOCOLS,
            default="users",
            help="users: the temporal split of EVALUATION.md; sessions: each session a user, test sessions "
            "revealed by their first half or click by click (--reveal; HR@20, MRR@20, NDCG@10). Sessions imply "
            "--user-key session.",
        )
        parser.add_argument(
            "--reveal",
            choices=REVEALS,
            default="half",
            help="How the session protocol shows a test session: its first half, or click by click (each "
            f"prefix, at most {MAX_PREFIXES} per session, asked for its next item).",
        )
        parser.add_argument("--split", choices=SPLITS, default="test", help="validation: the train period's last 10%%.")
        parser.add_argument(
            "--tune",
            action="store_true",
            help="Run the tuning grid (of --algorithms, or all) on validation and test instead.",
        )
        parser.add_argument(
            "--served",
            action="store_true",
            help="Also score each algorithm through the served pipeline (candidates, diversity, exploration).",
        )
        parser.add_argument("--limit", type=int, help="Read only this many rows of the file.")
        parser.add_argument(
            "--output", type=Path, default=Path(settings.BASE_DIR) / "var" / "evaluation", help="Where files go."
        )

    def handle(
        self,
        *args,
        dataset,
        path,
        source,
        algorithms,
        user_key,
        targets,
        protocol,
        reveal,
        split,
        served,
        tune,
        limit,
        output,
        **options,
    ):
        target_names = {name.strip() for name in targets.split(",") if name.strip()}
        if not target_names:
            raise CommandError("--targets names no event.")
        if protocol == "sessions":
            # A session's next item is any item it touches, not only what it bought.
            user_key, target_names = "session", set(EVENT_WEIGHTS)
        try:
            if source == "events":
                log = datasets.events_log(user_key=user_key, targets=target_names)
                label = "events"
            else:
                if not dataset:
                    raise CommandError("--dataset is needed to read a file (or use --source events).")
                log = datasets.dataset_log(
                    name=dataset, path=path, user_key=user_key, targets=target_names, limit=limit
                )
                label = dataset
        except (datasets.DatasetMissing, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if log.empty:
            raise CommandError("The log holds no usable interactions.")
        names = [name.strip() for name in algorithms.split(",") if name.strip()]
        if tune:
            self._tune(log, label=label, names=names, protocol=protocol, reveal=reveal, output=output)
            return
        try:
            candidates = candidates_from(names)
        except KeyError as exc:
            raise CommandError(exc.args[0]) from exc
        total = len(candidates) * (2 if served else 1)
        with progress_bar(self, total=total, desc="Evaluating", unit="algorithm") as bar:
            try:
                run = evaluation_run(
                    log=log,
                    dataset=label,
                    candidates=candidates,
                    split=split,
                    protocol=protocol,
                    reveal=reveal,
                    served=served,
                    progress=lambda name: bar.update(1),
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
        for line in table_lines(run):
            self.stdout.write(line)
        for written in run_write(run, directory=output):
            self.stdout.write(f"wrote {written}")

    def _tune(self, log, *, label: str, names: list[str], protocol: str, reveal: str, output: Path) -> None:
        candidates = tuning_candidates(names)
        if not candidates:
            raise CommandError(f"the tuning grid has no row for {', '.join(names)}")
        with progress_bar(self, total=len(candidates), desc="Tuning", unit="configuration") as bar:
            try:
                rows = tuning_run(
                    log=log,
                    candidates=candidates,
                    protocol=protocol,
                    reveal=reveal,
                    progress=lambda name: bar.update(1),
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
        for line in tuning_lines(rows):
            self.stdout.write(line)
        stem = label if protocol == "users" else f"{label}_{protocol}"
        if protocol == "sessions" and reveal == "clicks":
            stem += "_clicks"
        self.stdout.write(f"wrote {tuning_write(rows, path=output / f'{stem}_tuning.csv')}")
