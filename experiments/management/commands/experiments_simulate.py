"""Validate the experiment statistics by simulation and print each figure beside its target."""

from django.core.management.base import BaseCommand, CommandError

from experiments.simulation import figures, simulations_total
from shop.progress import progress_bar


class Command(BaseCommand):
    help = (
        "Simulate many experiments whose truth is known (A/A, daily peeking, power, SRM, CUPED, a "
        "Thompson bandit) at the level of counts and print the error rates of the statistics."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tests", type=int, default=1000, help="Simulated experiments per check.")
        parser.add_argument("--bandit-runs", type=int, default=300, help="Simulated bandits.")

    def handle(self, *args, tests: int, bandit_runs: int, **options):
        if tests < 10 or bandit_runs < 1:
            raise CommandError("Give at least 10 tests and 1 bandit run.")
        with progress_bar(self, total=simulations_total(tests=tests, bandit_runs=bandit_runs), desc="simulating",
                          unit="experiment") as bar:  # fmt: skip
            results = figures(tests=tests, bandit_runs=bandit_runs, progress=bar.update)
        for figure in results:
            mark = "ok  " if figure.passed else "FAIL"
            self.stdout.write(f"{mark} {figure.name}: {figure.shown} (target {figure.target})")
            if figure.detail:
                self.stdout.write(f"       {figure.detail}")
        failed = [figure.name for figure in results if not figure.passed]
        if failed:
            raise CommandError(f"{len(failed)} figure(s) off target: {', '.join(failed)}")
