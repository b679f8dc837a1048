"""The statistics of experiments: pure functions over counts and sums, apart from the app.

Every function takes what the event record sums per variant (visitors, successes, sums of a
metric and of its square, and with CUPED the pre-exposure covariate's sums; for a ratio such as
order value, both per-visitor sums and their cross-product) and returns an Effect: the
absolute and relative lift of a treatment over control with their intervals.
The sequential (always-valid) interval is the one to read while an experiment runs: it holds
at every look at once, so looking daily does not raise the false positive rate.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist

import numpy as np
from scipy import special, stats

ALPHA = 0.05
# The standard normal from the standard library: ~20x faster per call than scipy.stats.norm,
# which the peeking simulations call tens of thousands of times.
NORMAL = NormalDist()
# The sample size (both arms) at which the confidence sequence is tightest. Wider than at
# the fixed horizon by ~1.6x there; it stays valid before and after. 10,000 visitors is a
# week of a small shop's traffic per experiment.
SEQUENTIAL_TUNING = 10_000
# Sample-ratio mismatch: a chi-square p below this is a broken assignment, not bad luck
# (the industry's threshold: at 0.05 one healthy experiment in twenty would be stopped).
SRM_P_VALUE = 0.001
# ...and only when some variant's share is off its planned share by at least this much:
# at a million visitors a 50.1/49.9 split has p < 0.001 yet changes no conclusion.
SRM_MIN_DEVIATION = 0.005


@dataclass(frozen=True)
class Arm:
    """One variant's sums: n units, the metric's sum and sum of squares (for a proportion,
    sum == sum_squares == successes), and the pre-exposure covariate's sums for CUPED."""

    n: int
    total: float
    total_squares: float
    pre_total: float = 0.0
    pre_squares: float = 0.0
    cross: float = 0.0  # sum of metric * covariate

    @classmethod
    def proportion(cls, *, n: int, successes: int) -> "Arm":
        return cls(n=n, total=successes, total_squares=successes)

    @classmethod
    def of(cls, values: Sequence[float], pre: Sequence[float] | None = None) -> "Arm":
        """The sums of these per-unit values and, for CUPED, of their pre-exposure covariate."""
        y = np.asarray(values, dtype=float)
        x = np.zeros_like(y) if pre is None else np.asarray(pre, dtype=float)
        return cls(
            n=int(y.size),
            total=float(y.sum()),
            total_squares=float(y @ y),
            pre_total=float(x.sum()),
            pre_squares=float(x @ x),
            cross=float(x @ y),
        )

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """Sample variance (n - 1 in the denominator)."""
        if self.n < 2:
            return 0.0
        return max(0.0, (self.total_squares - self.total**2 / self.n) / (self.n - 1))

    @property
    def mean_variance(self) -> float:
        """Variance of the mean: the square of its standard error."""
        return self.variance / self.n if self.n else 0.0


@dataclass(frozen=True)
class RatioArm:
    """One variant's sums for a ratio of two per-visitor metrics (average order value: revenue
    over orders), each summed per visitor first: n visitors, numerator and denominator sums,
    their squares and their cross-product.

    The unit of randomisation is the visitor, not the order: one visitor's orders are alike (a
    big spender's baskets are all big), so treating orders as independent understates the
    variance and an A/A test "wins" far more often than alpha. The delta method keeps the
    visitor as the unit."""

    n: int
    numerator: float
    numerator_squares: float
    denominator: float
    denominator_squares: float
    cross: float  # sum over visitors of numerator * denominator

    @classmethod
    def of(cls, numerators: Sequence[float], denominators: Sequence[float]) -> "RatioArm":
        """The sums of per-visitor numerators (revenue) and denominators (orders)."""
        sums = Arm.of(numerators, pre=denominators)
        return cls(
            n=sums.n,
            numerator=sums.total,
            numerator_squares=sums.total_squares,
            denominator=sums.pre_total,
            denominator_squares=sums.pre_squares,
            cross=sums.cross,
        )

    @property
    def mean(self) -> float:
        """The ratio of the sums (total revenue over total orders), not a mean of ratios."""
        return self.numerator / self.denominator if self.denominator else 0.0

    @property
    def mean_variance(self) -> float:
        """Delta method: Var(Ybar / Xbar) ~ (s2_Y - 2 R s_XY + R^2 s2_X) / (n mean_X^2), with sample
        (n - 1) moments; with one order per visitor it is Welch's variance of the mean."""
        if self.n < 2 or not self.denominator:
            return 0.0
        n, ratio = self.n, self.mean
        var_y = (self.numerator_squares - self.numerator**2 / n) / (n - 1)
        var_x = (self.denominator_squares - self.denominator**2 / n) / (n - 1)
        cov = (self.cross - self.numerator * self.denominator / n) / (n - 1)
        mean_x = self.denominator / n
        return max(0.0, (var_y - 2 * ratio * cov + ratio**2 * var_x) / (n * mean_x**2))


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class Effect:
    """Treatment against control: absolute lift (difference of means) and relative lift
    (difference over the control's mean), each with its interval."""

    control_mean: float
    treatment_mean: float
    absolute: float
    absolute_interval: Interval
    relative: float
    relative_interval: Interval
    p_value: float
    standard_error: float
    relative_standard_error: float

    @property
    def is_significant(self) -> bool:
        return self.absolute_interval.excludes_zero()


def _effect(
    *, control: float, treatment: float, var_control: float, var_treatment: float, half_width, p_value: float
) -> Effect:
    """var_* are the variances of the two means; half_width(se) gives an interval's half-width.
    The relative lift's standard error is the delta method's on treatment / control - 1."""
    absolute = treatment - control
    se = math.sqrt(var_control + var_treatment)
    if control:
        relative = absolute / control
        se_relative = math.sqrt(var_treatment / control**2 + treatment**2 * var_control / control**4)
    else:
        relative, se_relative = 0.0, math.inf
    width, width_relative = half_width(se), half_width(se_relative)
    return Effect(
        control_mean=control,
        treatment_mean=treatment,
        absolute=absolute,
        absolute_interval=Interval(absolute - width, absolute + width),
        relative=relative,
        relative_interval=Interval(relative - width_relative, relative + width_relative),
        p_value=p_value,
        standard_error=se,
        relative_standard_error=se_relative,
    )


def _fixed(alpha: float):
    z = NORMAL.inv_cdf(1 - alpha / 2)
    return lambda se: z * se


def proportion_z_test(*, control: Arm, treatment: Arm, alpha: float = ALPHA) -> Effect:
    """Two-proportion z test: the p-value from the pooled standard error (the null says the
    rates are equal), the intervals from the unpooled one (Wald)."""
    p_a, p_b = control.mean, treatment.mean
    pooled = (control.total + treatment.total) / (control.n + treatment.n)
    se_null = math.sqrt(pooled * (1 - pooled) * (1 / control.n + 1 / treatment.n))
    z = (p_b - p_a) / se_null if se_null else 0.0
    return _effect(
        control=p_a,
        treatment=p_b,
        var_control=p_a * (1 - p_a) / control.n,
        var_treatment=p_b * (1 - p_b) / treatment.n,
        half_width=_fixed(alpha),
        p_value=2 * (1 - NORMAL.cdf(abs(z))),
    )


def welch_t_test(*, control: Arm, treatment: Arm, alpha: float = ALPHA) -> Effect:
    """Welch's t test for a difference of means with unequal variances (revenue per visitor,
    order value), degrees of freedom by Welch-Satterthwaite."""
    v_a, v_b = control.mean_variance, treatment.mean_variance
    se = math.sqrt(v_a + v_b)
    if not se:
        return _effect(
            control=control.mean, treatment=treatment.mean, var_control=0.0, var_treatment=0.0,
            half_width=lambda se: 0.0, p_value=1.0,
        )  # fmt: skip
    df = (v_a + v_b) ** 2 / (v_a**2 / (control.n - 1) + v_b**2 / (treatment.n - 1))
    t = (treatment.mean - control.mean) / se
    quantile = stats.t.ppf(1 - alpha / 2, df)
    return _effect(
        control=control.mean,
        treatment=treatment.mean,
        var_control=v_a,
        var_treatment=v_b,
        half_width=lambda se: quantile * se,
        p_value=float(2 * stats.t.sf(abs(t), df)),
    )


def ratio_test(*, control: RatioArm, treatment: RatioArm, alpha: float = ALPHA) -> Effect:
    """Difference of two ratio metrics (average order value) with delta-method standard errors
    and a normal (z) interval: the estimate is a ratio of sums over many visitors, and its
    distribution is normal only asymptotically anyway."""
    var_a, var_b = control.mean_variance, treatment.mean_variance
    se = math.sqrt(var_a + var_b)
    z = (treatment.mean - control.mean) / se if se else 0.0
    return _effect(
        control=control.mean,
        treatment=treatment.mean,
        var_control=var_a,
        var_treatment=var_b,
        half_width=_fixed(alpha),
        p_value=2 * (1 - NORMAL.cdf(abs(z))) if se else 1.0,
    )


def _rho_squared(tuning: int) -> float:
    """The mixture's rho, tightest at n == tuning for the default alpha (Howard et al., eq. 3.3);
    fixed by the design rather than by the alpha asked, so the p-value below is monotone."""
    return (-2 * math.log(ALPHA) + math.log(-2 * math.log(ALPHA) + 1)) / tuning


def sequential_half_width(
    *, standard_error: float, n: int, alpha: float = ALPHA, tuning: int = SEQUENTIAL_TUNING
) -> float:
    """Half-width of the asymptotic confidence sequence (Howard et al. 2021; Waudby-Smith et al.
    2023: the normal mixture GrowthBook uses) for an estimate with this standard error after n
    units in all: it covers the truth at every n at once with probability 1 - alpha."""
    if n <= 0 or not math.isfinite(standard_error):
        return math.inf
    sigma_sq = standard_error**2 * n  # per-unit variance of the estimate
    rho_sq = _rho_squared(tuning)
    spread = n * rho_sq + 1
    return math.sqrt(sigma_sq * 2 * spread / (n**2 * rho_sq) * math.log(math.sqrt(spread) / alpha))


def sequential_p_value(*, estimate: float, standard_error: float, n: int, tuning: int = SEQUENTIAL_TUNING) -> float:
    """The always-valid p-value: the smallest alpha whose confidence sequence excludes zero
    (the half-width above solved for alpha). It may be read at every look."""
    if n <= 0 or not standard_error:
        return 1.0
    rho_sq = _rho_squared(tuning)
    spread = n * rho_sq + 1
    sigma_sq = standard_error**2 * n
    return min(1.0, math.sqrt(spread) * math.exp(-(estimate**2) * n**2 * rho_sq / (2 * sigma_sq * spread)))


def sequential(effect: Effect, *, n: int, alpha: float = ALPHA, tuning: int = SEQUENTIAL_TUNING) -> Effect:
    """The same estimate with always-valid intervals and p-value in place of the fixed-horizon
    ones; n is the units in both arms."""
    abs_width = sequential_half_width(standard_error=effect.standard_error, n=n, alpha=alpha, tuning=tuning)
    rel_width = sequential_half_width(standard_error=effect.relative_standard_error, n=n, alpha=alpha, tuning=tuning)
    return replace(
        effect,
        absolute_interval=Interval(effect.absolute - abs_width, effect.absolute + abs_width),
        relative_interval=Interval(effect.relative - rel_width, effect.relative + rel_width),
        p_value=sequential_p_value(estimate=effect.absolute, standard_error=effect.standard_error, n=n, tuning=tuning),
    )


def cuped_theta(*arms: Arm) -> float:
    """CUPED's coefficient cov(metric, covariate) / var(covariate), pooled over all arms so the
    adjustment is the same for each and the estimate stays unbiased."""
    n = sum(arm.n for arm in arms)
    mean_y = sum(arm.total for arm in arms) / n
    mean_x = sum(arm.pre_total for arm in arms) / n
    cov = sum(arm.cross for arm in arms) / n - mean_x * mean_y
    var = sum(arm.pre_squares for arm in arms) / n - mean_x**2
    return cov / var if var > 0 else 0.0


def cuped_adjust(*, control: Arm, treatment: Arm) -> tuple[Arm, Arm]:
    """Both arms with the metric replaced by Y - theta * (X - mean X), the covariate X measured
    before exposure (so the treatment cannot move it): same expected lift, less variance."""
    theta = cuped_theta(control, treatment)
    mean_x = (control.pre_total + treatment.pre_total) / (control.n + treatment.n)

    def adjusted(arm: Arm) -> Arm:
        # sum of (y - theta (x - m)) and of its square, expanded over the arm's sums
        shift = arm.pre_total - arm.n * mean_x
        total = arm.total - theta * shift
        centred_squares = arm.pre_squares - 2 * mean_x * arm.pre_total + arm.n * mean_x**2
        centred_cross = arm.cross - mean_x * arm.total
        squares = arm.total_squares - 2 * theta * centred_cross + theta**2 * centred_squares
        return Arm(n=arm.n, total=total, total_squares=squares)

    return adjusted(control), adjusted(treatment)


def chance_to_beat_control(*, control: Arm | RatioArm, treatment: Arm | RatioArm, proportion: bool) -> float:
    """Bayesian probability that the treatment's true mean is above the control's. For a rate,
    exact under uniform Beta(1, 1) priors (Evan Miller's closed form); for a mean or a ratio,
    under flat priors with the normal approximation."""
    if not proportion:
        se = math.sqrt(control.mean_variance + treatment.mean_variance)
        if not se:
            return 0.5
        return NORMAL.cdf((treatment.mean - control.mean) / se)
    a_a, b_a = 1 + control.total, 1 + control.n - control.total
    a_b, b_b = 1 + treatment.total, 1 + treatment.n - treatment.total
    i = np.arange(int(a_b))
    terms = special.betaln(a_a + i, b_a + b_b) - np.log(b_b + i) - special.betaln(1 + i, b_b) - special.betaln(a_a, b_a)
    return float(min(1.0, max(0.0, np.exp(special.logsumexp(terms)))))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the order given: reject where adjusted < alpha and
    the family-wise error rate across the success metrics stays at alpha."""
    m = len(p_values)
    order = sorted(range(m), key=lambda index: p_values[index])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


@dataclass(frozen=True)
class SampleRatio:
    """Whether the visitors split as planned: chi-square goodness of fit, and the largest gap
    between a variant's observed and planned share."""

    p_value: float
    deviation: float
    observed_shares: tuple[float, ...]

    @property
    def mismatch(self) -> bool:
        return self.p_value < SRM_P_VALUE and self.deviation >= SRM_MIN_DEVIATION


def sample_ratio(*, counts: Sequence[int], weights: Sequence[float]) -> SampleRatio:
    """Sample-ratio mismatch check of observed counts per variant against planned weights."""
    total = sum(counts)
    planned = [weight / sum(weights) for weight in weights]
    if total == 0:
        return SampleRatio(p_value=1.0, deviation=0.0, observed_shares=tuple(0.0 for _ in counts))
    expected = [total * share for share in planned]
    chi2 = sum((count - e) ** 2 / e for count, e in zip(counts, expected, strict=True))
    shares = tuple(count / total for count in counts)
    return SampleRatio(
        p_value=float(stats.chi2.sf(chi2, len(counts) - 1)),
        deviation=max(abs(share - plan) for share, plan in zip(shares, planned, strict=True)),
        observed_shares=shares,
    )


def proportion_power(*, base_rate: float, relative_lift: float, n_per_arm: int, alpha: float = ALPHA) -> float:
    """Planned power of the two-sided two-proportion z test to detect this relative lift."""
    p_a, p_b = base_rate, base_rate * (1 + relative_lift)
    se = math.sqrt(p_a * (1 - p_a) / n_per_arm + p_b * (1 - p_b) / n_per_arm)
    z = NORMAL.inv_cdf(1 - alpha / 2)
    shift = abs(p_b - p_a) / se
    return (1 - NORMAL.cdf(z - shift)) + NORMAL.cdf(-z - shift)


def thompson_shares(
    *, successes: Sequence[float], trials: Sequence[int], min_share: float, draws: int = 20_000, seed: int = 0
) -> list[float]:
    """Each arm's share of a bandit's traffic: the posterior chance that it is the best arm
    (Thompson sampling, as probability matching), under Beta(1 + successes, 1 + failures), by
    Monte Carlo; then mixed with an even split so every arm keeps at least min_share (a share of
    1, 0.05 for 5%), and an arm judged early on little data can still come back."""
    k = len(trials)
    if k == 0:
        return []
    if min_share * k >= 1:
        return [1 / k] * k
    s, t = np.asarray(successes, dtype=float), np.asarray(trials, dtype=float)
    draws_ = np.random.default_rng(seed).beta(1 + s, 1 + t - s, size=(draws, k))
    best = np.bincount(draws_.argmax(axis=1), minlength=k) / draws
    return [float(min_share + (1 - k * min_share) * share) for share in best]


@dataclass(frozen=True)
class Estimate:
    """A mean with its standard error and confidence interval."""

    mean: float
    standard_error: float
    interval: Interval
    n: int


def ipw_mean(*, rewards: Sequence[float], propensities: Sequence[float], total: int, alpha: float = ALPHA) -> Estimate:
    """An arm's mean reward under a bandit, without the bandit's bias: the inverse-propensity
    (Horvitz-Thompson) estimate over all total exposures of the policy, of which these showed the
    arm, each with the chance it had. The plain mean of the arm's exposures is biased: an arm is
    shown less after an unlucky start, so its unlucky start is never diluted. Each term here is
    unbiased whatever the shares were when it was drawn."""
    if total < 2:
        return Estimate(0.0, math.inf, Interval(-math.inf, math.inf), total)
    z = np.asarray(rewards, dtype=float) / np.asarray(propensities, dtype=float)
    mean = float(z.sum() / total)
    # the total - len(z) exposures that showed another arm contribute zeros
    variance = max(0.0, (float(z @ z) - total * mean**2) / (total - 1))
    se = math.sqrt(variance / total)
    width = _fixed(alpha)(se)
    return Estimate(mean, se, Interval(mean - width, mean + width), total)


def proportion_interval(*, n: int, successes: int, alpha: float = ALPHA) -> Estimate:
    """A rate with its Wilson score interval: unlike the normal (Wald) one it stays inside [0, 1]
    and keeps its coverage on the small counts a report's rows hold (3 orders from 40 clicks)."""
    if n <= 0:
        return Estimate(0.0, math.inf, Interval(0.0, 1.0), 0)
    rate = successes / n
    z = NORMAL.inv_cdf(1 - alpha / 2)
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))
    # the bounds hold the rate itself, even where rounding would leave 0 of 40 a hair above zero
    interval = Interval(max(0.0, min(rate, centre - half)), min(1.0, max(rate, centre + half)))
    return Estimate(rate, math.sqrt(rate * (1 - rate) / n), interval, n)
