"""Validate the experiment statistics by simulation and print each figure beside its target; with
--personas, measure personalized against generic home shelves on the simulator's personas instead."""

from django.core.management.base import BaseCommand, CommandError

from experiments.personas import MAX_VISITORS, TrialError, personas_trial
from experiments.simulation import figures, simulations_total
from shop.progress import progress_bar


def _effect(result) -> str:
    e, f = result.effect, result.fixed
    if e is None:
        return f"generic {result.control.mean:.4f}, personalized {result.treatment.mean:.4f} (too few visitors)"
    return (
        f"generic {e.control_mean:.4f}, personalized {e.treatment_mean:.4f}: lift {e.absolute:+.4f} "
        f"(95% sequential {e.absolute_interval.low:+.4f} to {e.absolute_interval.high:+.4f}; fixed-horizon "
        f"{f.absolute_interval.low:+.4f} to {f.absolute_interval.high:+.4f}), relative {e.relative:+.1%} "
        f"({e.relative_interval.low:+.1%} to {e.relative_interval.high:+.1%})"
    )


class Command(BaseCommand):
    help = (
        "Simulate many experiments whose truth is known (A/A, daily peeking, power, SRM, CUPED, a "
        "Thompson bandit) at the level of counts and print the error rates of the statistics; with "
        "--personas N, run N simulated shoppers through a real experiment of personalized against "
        "generic home shelves (assignment, rendered pages, exposures, ingest, report) and print the lift."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tests", type=int, default=1000, help="Simulated experiments per check.")
        parser.add_argument("--bandit-runs", type=int, default=300, help="Simulated bandits.")
        parser.add_argument(
            "--personas",
            type=int,
            default=0,
            metavar="VISITORS",
            help=f"Instead: this many simulated shoppers (10 to {MAX_VISITORS:,}) through a real experiment on "
            "the home shelf, personalized against the most popular products. Writes to the database: an "
            "experiment (stopped at the end) and the visitors' events.",
        )
        parser.add_argument("--seed", type=int, default=1, help="With --personas: the simulated shoppers' seed.")

    def handle(self, *args, tests: int, bandit_runs: int, personas: int, seed: int, **options):
        if personas:
            return self._personas(visitors=personas, seed=seed)
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

    def _personas(self, *, visitors: int, seed: int) -> None:
        try:
            with progress_bar(self, total=visitors, desc="shoppers", unit="visitor") as bar:
                trial = personas_trial(visitors=visitors, seed=seed, progress=bar.update)
        except TrialError as error:
            raise CommandError(str(error)) from error
        counts = trial.counts
        self.stdout.write(
            f"Personalized against generic (most popular) home shelves: {sum(counts.values()):,} exposed of "
            f"{visitors:,} simulated shoppers ({counts['generic']:,} generic, {counts['personalized']:,} "
            f"personalized) in {trial.seconds:.0f} s; experiment “{trial.experiment.name}” (#{trial.experiment.pk})."
        )
        warning = " (MISMATCH: do not read the lift)" if trial.srm.mismatch else ""
        self.stdout.write(f"  sample ratio: chi-square p {trial.srm.p_value:.3g}{warning}")
        for result in trial.results:
            self.stdout.write(f"  {result.metric}: {_effect(result)}")
        self.stdout.write("By persona (generic → personalized, lift with its 95% sequential interval):")
        for persona, results in trial.by_persona.items():
            parts = [
                f"{r.metric} {r.control.mean:.3f} → {r.treatment.mean:.3f}"
                + (f" ({r.effect.absolute:+.3f}, {r.effect.absolute_interval.low:+.3f} to "
                   f"{r.effect.absolute_interval.high:+.3f})" if r.effect else "")
                for r in results
            ]  # fmt: skip
            self.stdout.write(f"  {persona} (n {results[0].control.n} + {results[0].treatment.n}): {'; '.join(parts)}")
        if not all(counts.values()):
            raise CommandError("A variant had no exposed visitor: the home shelf was never shown or never recorded.")
