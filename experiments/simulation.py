"""Validation of the experiment statistics by simulation, at the level of counts: each check draws
many experiments whose truth is known and measures how often stats.py's answers are wrong.

Pure and seeded (numpy's Generator), so a run is reproducible; `manage.py experiments_simulate`
prints them and the tests assert their bounds. Nothing here touches pages, Redis or the record:
these are the statistics' own error rates, with the visitor as the unit (as the report has it).
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .stats import (
    ALPHA,
    Arm,
    cuped_adjust,
    ipw_mean,
    proportion_power,
    proportion_z_test,
    sample_ratio,
    sequential,
    thompson_shares,
    welch_t_test,
)

Progress = Callable[[int], None]  # called with how many simulated experiments were just done


def _quiet(done: int) -> None:
    return None


def _z(control_n: int, control_successes: int, treatment_n: int, treatment_successes: int):
    return proportion_z_test(
        control=Arm.proportion(n=control_n, successes=control_successes),
        treatment=Arm.proportion(n=treatment_n, successes=treatment_successes),
    )


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    target: str
    passed: bool
    detail: str = ""
    percent: bool = True  # a rate or share; otherwise a plain number

    @property
    def shown(self) -> str:
        return f"{self.value:.2%}" if self.percent else f"{self.value:.3f}"


def a_a_false_positives(*, tests: int, n: int = 2000, rate: float = 0.1, seed: int = 7, progress: Progress = _quiet):
    """A/A tests of a rate and of revenue: the share called significant at ALPHA (fixed horizon)."""
    rng = np.random.default_rng(seed)
    z = t = 0
    for _ in range(tests):
        a, b = rng.binomial(n, rate, size=2)
        z += _z(n, int(a), n, int(b)).is_significant
        t += welch_t_test(
            control=Arm.of(rng.exponential(40, 300)), treatment=Arm.of(rng.exponential(40, 300))
        ).is_significant
        progress(1)
    return [
        Figure("A/A false positives, two-proportion z", z / tests, "3%..7%", 0.03 <= z / tests <= 0.07),
        Figure("A/A false positives, Welch's t on revenue", t / tests, "3%..7%", 0.03 <= t / tests <= 0.07),
    ]


def peeking(
    *, tests: int, days: int = 28, daily: int = 250, rate: float = 0.1, lift: float = 0.0, seed: int = 11,
    progress: Progress = _quiet,
) -> tuple[float, float]:  # fmt: skip
    """Per experiment looked at daily: the share where any look of the fixed-horizon interval and
    of the sequential interval excluded zero."""
    rng = np.random.default_rng(seed)
    fixed = always = 0
    for _ in range(tests):
        a = np.cumsum(rng.binomial(daily, rate, size=days))
        b = np.cumsum(rng.binomial(daily, rate * (1 + lift), size=days))
        hit_fixed = hit_always = False
        for day in range(days):
            n = daily * (day + 1)
            effect = _z(n, int(a[day]), n, int(b[day]))
            hit_fixed |= effect.is_significant
            hit_always |= sequential(effect, n=2 * n).is_significant
        fixed += hit_fixed
        always += hit_always
        progress(1)
    return fixed / tests, always / tests


def power(
    *, tests: int, base: float = 0.1, lift: float = 0.15, n: int = 6700, seed: int = 13, progress: Progress = _quiet
) -> tuple[float, float]:
    """Planned power of the z test for this lift and sample, and the share of tests that found it."""
    rng = np.random.default_rng(seed)
    detected = 0
    for _ in range(tests):
        detected += _z(n, int(rng.binomial(n, base)), n, int(rng.binomial(n, base * (1 + lift)))).is_significant
        progress(1)
    return proportion_power(base_rate=base, relative_lift=lift, n_per_arm=n), detected / tests


def srm(*, tests: int, visitors: int = 30_000, seed: int = 9, progress: Progress = _quiet) -> tuple[float, float]:
    """Share of experiments flagged for sample-ratio mismatch when assignment truly splits 52/48,
    and when it truly splits 50/50 (false alarms). At p < 0.001 a true 52/48 split shows reliably
    from about 30,000 visitors (z ≈ 0.04 √n: at 10,000 it is flagged three times in four)."""
    rng = np.random.default_rng(seed)
    broken = healthy = 0
    for _ in range(tests):
        a = int(rng.binomial(visitors, 0.52))
        b = int(rng.binomial(visitors, 0.50))
        broken += sample_ratio(counts=[a, visitors - a], weights=[1, 1]).mismatch
        healthy += sample_ratio(counts=[b, visitors - b], weights=[1, 1]).mismatch
        progress(1)
    return broken / tests, healthy / tests


def cuped(
    *, tests: int, n: int = 500, lift: float = 2.0, seed: int = 3, progress: Progress = _quiet
) -> tuple[float, float, float, float]:
    """Revenue with a correlated pre-period: CUPED's mean variance reduction, the mean lift it
    estimates (truth: lift), and the spread of the raw and adjusted estimates."""
    rng = np.random.default_rng(seed)
    raw_lifts, lifts, reductions = [], [], []
    for _ in range(tests):
        pre_a, pre_b = rng.gamma(2, 20, n), rng.gamma(2, 20, n)
        control = Arm.of(0.8 * pre_a + rng.normal(0, 15, n), pre_a)
        treatment = Arm.of(0.8 * pre_b + rng.normal(0, 15, n) + lift, pre_b)
        raw = welch_t_test(control=control, treatment=treatment)
        adjusted_control, adjusted_treatment = cuped_adjust(control=control, treatment=treatment)
        adjusted = welch_t_test(control=adjusted_control, treatment=adjusted_treatment)
        raw_lifts.append(raw.absolute)
        lifts.append(adjusted.absolute)
        reductions.append(1 - adjusted.standard_error**2 / raw.standard_error**2)
        progress(1)
    return float(np.mean(reductions)), float(np.mean(lifts)), float(np.std(raw_lifts)), float(np.std(lifts))


def bandit(
    *, runs: int, rates: tuple[float, ...] = (0.05, 0.06, 0.04), rounds: int = 30, per_round: int = 400,
    min_share: float = 0.05, seed: int = 21, progress: Progress = _quiet,
) -> tuple[list[float], list[float], list[float]]:  # fmt: skip
    """Batched Thompson sampling as serving runs it (thompson_shares after each round, arms drawn
    by the shares, every exposure's propensity kept) on arms with known click-through rates: per
    arm, the mean over runs of the plain estimate (clicks over the arm's exposures) and of the
    inverse-propensity one (ipw_mean), against the truth."""
    rng = np.random.default_rng(seed)
    k = len(rates)
    naive, weighted = np.zeros(k), np.zeros(k)
    for run in range(runs):
        shares = [1 / k] * k
        successes, trials = np.zeros(k), np.zeros(k, dtype=int)
        arms, rewards, chances = [], [], []
        for _ in range(rounds):
            drawn = rng.choice(k, size=per_round, p=shares)
            clicked = rng.random(per_round) < np.asarray(rates)[drawn]
            arms.append(drawn)
            rewards.append(clicked)
            chances.append(np.asarray(shares)[drawn])
            np.add.at(successes, drawn, clicked)
            np.add.at(trials, drawn, 1)
            shares = thompson_shares(successes=successes, trials=trials, min_share=min_share, draws=4000, seed=run)
        arm, reward, chance = np.concatenate(arms), np.concatenate(rewards), np.concatenate(chances)
        for a in range(k):
            own = arm == a
            naive[a] += reward[own].mean() if own.any() else 0.0
            weighted[a] += ipw_mean(rewards=reward[own], propensities=chance[own], total=arm.size).mean
        progress(1)
    return list(rates), list(naive / runs), list(weighted / runs)


def figures(*, tests: int = 1000, bandit_runs: int = 300, progress: Progress = _quiet) -> list[Figure]:
    """Every check with its target, in the order of the issue's list."""
    out = a_a_false_positives(tests=tests, progress=progress)
    fixed, always = peeking(tests=tests, progress=progress)
    out.append(
        Figure("daily peeking for 28 days, fixed-horizon interval", fixed, "(the trap: above alpha)", fixed > ALPHA)
    )
    out.append(Figure("daily peeking for 28 days, sequential interval", always, "at most 5%", always <= 0.05))
    planned, measured = power(tests=tests, progress=progress)
    out.append(
        Figure("power for a 15% lift on a 10% rate, 6,700 a side", measured, f"planned {planned:.1%} ± 4 points",
               abs(measured - planned) <= 0.04)
    )  # fmt: skip
    flagged, alarms = srm(tests=tests, progress=progress)
    out.append(Figure("SRM flagged at a true 52/48 split, 30,000 visitors", flagged, "above 99%", flagged > 0.99))
    out.append(Figure("SRM false alarms at a true 50/50 split", alarms, "at most 0.3%", alarms <= 0.003))
    reduction, lift, raw_spread, spread = cuped(tests=max(tests // 3, 10), progress=progress)
    out.append(
        Figure("CUPED variance reduction (pre-period correlation 0.83)", reduction, "≈ 69%",
               abs(reduction - 0.69) <= 0.05, f"spread of the lift {raw_spread:.2f} → {spread:.2f}")
    )  # fmt: skip
    out.append(Figure("CUPED mean lift (truth 2.0)", lift, "2.0 ± 0.15", abs(lift - 2.0) <= 0.15, percent=False))
    truth, naive, weighted = bandit(runs=bandit_runs, progress=progress)
    ipw_bias = max(abs(w - t) / t for w, t in zip(weighted, truth, strict=True))
    naive_bias = max(abs(n - t) / t for n, t in zip(naive, truth, strict=True))
    detail = "; ".join(
        f"arm {i}: truth {t:.4f}, plain {n:.4f}, weighted {w:.4f}"
        for i, (t, n, w) in enumerate(zip(truth, naive, weighted, strict=True))
    )
    out.append(
        Figure("bandit: largest relative bias, inverse-propensity", ipw_bias, "within 3%", ipw_bias <= 0.03, detail)
    )
    out.append(Figure("bandit: largest relative bias, plain mean", naive_bias, "(biased: above 3%)", naive_bias > 0.03))
    return out


def simulations_total(*, tests: int, bandit_runs: int) -> int:
    """How many simulated experiments figures() runs, for a progress bar."""
    return 4 * tests + max(tests // 3, 10) + bandit_runs
