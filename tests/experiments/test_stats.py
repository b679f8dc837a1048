"""The experiment statistics against known values and, by simulation, their error rates."""

import math

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from experiments import simulation
from experiments.stats import (
    Arm,
    RatioArm,
    chance_to_beat_control,
    cuped_adjust,
    holm,
    ipw_mean,
    proportion_interval,
    proportion_z_test,
    ratio_test,
    sample_ratio,
    sequential_half_width,
    thompson_shares,
    welch_t_test,
)

TESTS = 1000


arm_of = Arm.of
ratio_arm_of = RatioArm.of


def test_two_proportion_z_matches_the_chi_square_of_the_two_by_two_table():
    control, treatment = Arm.proportion(n=1000, successes=200), Arm.proportion(n=1000, successes=250)
    effect = proportion_z_test(control=control, treatment=treatment)
    table = [[200, 800], [250, 750]]
    _, p_value, _, _ = stats.chi2_contingency(table, correction=False)
    assert effect.p_value == pytest.approx(p_value, rel=1e-9)
    assert effect.absolute == pytest.approx(0.05)
    assert effect.relative == pytest.approx(0.25)
    # Wald interval: 0.05 ± 1.96 * sqrt(.2*.8/1000 + .25*.75/1000)
    half = stats.norm.ppf(0.975) * math.sqrt(0.2 * 0.8 / 1000 + 0.25 * 0.75 / 1000)
    assert effect.absolute_interval.low == pytest.approx(0.05 - half)
    assert effect.absolute_interval.high == pytest.approx(0.05 + half)
    assert effect.absolute_interval.low == pytest.approx(0.01346, abs=1e-4)
    assert effect.relative_interval.low < effect.relative < effect.relative_interval.high


def test_welch_matches_scipy_on_raw_data():
    rng = np.random.default_rng(1)
    a, b = rng.lognormal(3, 1, 400), rng.lognormal(3.1, 1.3, 300)
    effect = welch_t_test(control=arm_of(a), treatment=arm_of(b))
    reference = stats.ttest_ind(b, a, equal_var=False)
    interval = reference.confidence_interval(0.95)
    assert effect.p_value == pytest.approx(reference.pvalue, rel=1e-6)
    assert effect.absolute_interval.low == pytest.approx(interval.low, rel=1e-6)
    assert effect.absolute_interval.high == pytest.approx(interval.high, rel=1e-6)


def test_welch_on_a_textbook_example():
    # Welch (1947) style data as in NIST's e-Handbook 7.3.1: t and df by hand.
    a = [19.1, 20.3, 18.8, 21.0, 19.9, 20.5]
    b = [22.0, 21.4, 23.9, 20.8, 22.7, 24.1, 21.9, 23.0]
    effect = welch_t_test(control=arm_of(a), treatment=arm_of(b))
    va, vb = np.var(a, ddof=1) / 6, np.var(b, ddof=1) / 8
    t = (np.mean(b) - np.mean(a)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / 5 + vb**2 / 7)
    assert effect.p_value == pytest.approx(2 * stats.t.sf(t, df))


def test_a_a_tests_have_a_false_positive_rate_near_alpha():
    assert all(figure.passed for figure in simulation.a_a_false_positives(tests=TESTS))


def test_daily_peeking_inflates_fixed_horizon_errors_but_not_the_sequential_ones():
    fixed, always = simulation.peeking(tests=TESTS)
    assert fixed > 0.12  # the trap: ~4x alpha after four weeks of daily looks
    assert always <= 0.05


def test_the_sequential_interval_still_finds_a_real_lift():
    _, always = simulation.peeking(tests=TESTS, lift=0.25, seed=12)
    assert always > 0.6


@given(
    se=st.floats(min_value=1e-4, max_value=10),
    n=st.integers(min_value=10, max_value=10_000_000),
)
def test_the_sequential_interval_is_never_narrower_than_the_fixed_one(se, n):
    assert sequential_half_width(standard_error=se, n=n) >= stats.norm.ppf(0.975) * se


def test_cuped_reduces_variance_and_leaves_the_estimate_unbiased():
    reduction, lift, raw_spread, spread = simulation.cuped(tests=300)
    # corr(pre, post)^2 = (0.8 * 28.3)^2 / ((0.8 * 28.3)^2 + 15^2) ≈ 0.69
    assert reduction == pytest.approx(0.69, abs=0.05)
    assert lift == pytest.approx(2.0, abs=0.15)
    assert spread < 0.6 * raw_spread


def test_cuped_sums_match_the_adjusted_values_computed_one_by_one():
    rng = np.random.default_rng(4)
    pre_a, pre_b = rng.normal(10, 3, 50), rng.normal(10, 3, 60)
    a, b = pre_a + rng.normal(0, 1, 50), pre_b + rng.normal(0, 1, 60)
    control, treatment = cuped_adjust(control=arm_of(a, pre_a), treatment=arm_of(b, pre_b))
    x = np.concatenate([pre_a, pre_b])
    y = np.concatenate([a, b])
    theta = np.cov(y, x, ddof=0)[0, 1] / np.var(x)
    for arm, values, pre in ((control, a, pre_a), (treatment, b, pre_b)):
        expected = values - theta * (pre - x.mean())
        assert arm.mean == pytest.approx(expected.mean())
        assert arm.variance == pytest.approx(np.var(expected, ddof=1))


def test_chance_to_beat_control_matches_posterior_draws():
    rng = np.random.default_rng(5)
    control, treatment = Arm.proportion(n=1000, successes=100), Arm.proportion(n=1000, successes=118)
    draws_a = rng.beta(101, 901, 400_000)
    draws_b = rng.beta(119, 883, 400_000)
    assert chance_to_beat_control(control=control, treatment=treatment, proportion=True) == pytest.approx(
        (draws_b > draws_a).mean(), abs=0.003
    )
    assert chance_to_beat_control(control=control, treatment=control, proportion=True) == pytest.approx(0.5, abs=1e-3)
    revenue = arm_of([10, 12, 9, 11, 13, 8])
    assert chance_to_beat_control(control=revenue, treatment=revenue, proportion=False) == 0.5


def test_holm_on_a_worked_example():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04, then running max
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


@given(st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=12))
def test_holm_never_lowers_a_p_value_and_keeps_their_order(p_values):
    adjusted = holm(p_values)
    assert all(raw <= adj <= 1 for raw, adj in zip(p_values, adjusted, strict=True))
    for i, p in enumerate(p_values):
        for j, q in enumerate(p_values):
            if p < q:
                assert adjusted[i] <= adjusted[j]


def test_srm_flags_a_52_48_split_and_not_a_tiny_deviation_at_a_huge_sample():
    broken = sample_ratio(counts=[5200, 4800], weights=[50, 50])
    assert broken.p_value == pytest.approx(stats.chisquare([5200, 4800]).pvalue)
    assert broken.mismatch
    # p < 0.001 but 0.2 points off: no decision would change
    tiny = sample_ratio(counts=[5_010_000, 4_990_000], weights=[1, 1])
    assert tiny.p_value < 0.001
    assert not tiny.mismatch


def test_srm_flags_a_true_52_48_split_of_30_000_and_rarely_raises_a_false_alarm_on_a_true_even_split():
    flagged, alarms = simulation.srm(tests=TESTS)
    assert flagged > 0.99
    assert alarms <= 0.003  # expected 1 in 1,000


def test_measured_power_matches_the_planned_power():
    planned, measured = simulation.power(tests=TESTS)
    assert planned == pytest.approx(0.80, abs=0.05)
    assert measured == pytest.approx(planned, abs=0.04)


def test_thompson_shares_favour_the_better_arm_and_keep_every_arms_minimum():
    shares = thompson_shares(successes=[50, 80, 10], trials=[1000, 1000, 1000], min_share=0.05)
    assert sum(shares) == pytest.approx(1.0)
    assert shares[1] > 0.85 and min(shares) >= 0.05
    assert thompson_shares(successes=[0, 0], trials=[0, 0], min_share=0.05) == pytest.approx([0.5, 0.5], abs=0.02)
    assert thompson_shares(successes=[9, 1], trials=[10, 10], min_share=0.5) == [0.5, 0.5]


def test_the_inverse_propensity_estimate_is_unbiased_where_the_plain_mean_under_a_bandit_is_not():
    truth, naive, weighted = simulation.bandit(runs=300)
    for true, ipw in zip(truth, weighted, strict=True):
        assert ipw == pytest.approx(true, rel=0.03)
    assert max(abs(plain - true) / true for true, plain in zip(truth, naive, strict=True)) > 0.03


def test_the_inverse_propensity_estimate_on_a_worked_example():
    # 10 exposures of the policy; the arm shown 3 times, at chances 0.5, 0.5 and 0.25, clicked twice
    estimate = ipw_mean(rewards=[1, 0, 1], propensities=[0.5, 0.5, 0.25], total=10)
    assert estimate.mean == pytest.approx((2 + 4) / 10)
    z = np.array([2, 0, 4] + [0] * 7)
    assert estimate.standard_error == pytest.approx(z.std(ddof=1) / math.sqrt(10))


@given(st.integers(min_value=1, max_value=5000), st.floats(min_value=0, max_value=1))
def test_the_wilson_interval_matches_scipy_and_stays_within_zero_and_one(n, share):
    successes = round(n * share)
    estimate = proportion_interval(n=n, successes=successes)
    expected = stats.binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert estimate.interval.low == pytest.approx(expected.low, abs=1e-9)
    assert estimate.interval.high == pytest.approx(expected.high, abs=1e-9)
    assert 0.0 <= estimate.interval.low <= estimate.mean <= estimate.interval.high <= 1.0


def test_the_wilson_interval_of_no_successes_in_forty_is_not_zero_wide():
    # 0 orders from 40 click sessions: the Wald interval would be [0, 0]; the truth may be near 9%
    estimate = proportion_interval(n=40, successes=0)
    assert estimate.interval.low == 0.0 and estimate.interval.high == pytest.approx(0.0876, abs=1e-4)


def test_order_value_variance_by_the_delta_method_on_a_worked_example():
    # Four visitors: (revenue, orders) = (10, 1), (30, 2), (0, 0), (20, 1). R = 60 / 4 = 15;
    # Y - R X = -5, 0, 0, 5, whose sample variance is 50 / 3; mean X = 1; Var(R) = 50/3 / 4.
    arm = ratio_arm_of([10, 30, 0, 20], [1, 2, 0, 1])
    assert arm.mean == 15
    assert arm.mean_variance == pytest.approx(50 / 12)
    other = ratio_arm_of([40, 0, 25, 5], [2, 0, 1, 1])  # R = 70 / 4 = 17.5; residuals 5, 0, 7.5, -12.5
    effect = ratio_test(control=arm, treatment=other)
    assert effect.absolute == pytest.approx(2.5)
    assert effect.relative == pytest.approx(2.5 / 15)
    assert other.mean_variance == pytest.approx(np.var([5, 0, 7.5, -12.5], ddof=1) / 4)
    assert effect.standard_error == pytest.approx(math.sqrt(50 / 12 + other.mean_variance))


def test_order_value_variance_is_the_linearised_variance_on_random_data():
    rng = np.random.default_rng(21)
    orders = rng.poisson(0.4, 3000)
    revenue = np.array([rng.gamma(2, 25, k).sum() for k in orders])
    arm = ratio_arm_of(revenue, orders)
    ratio = revenue.sum() / orders.sum()
    linearised = np.var(revenue - ratio * orders, ddof=1) / (len(orders) * orders.mean() ** 2)
    assert arm.mean == pytest.approx(ratio)
    assert arm.mean_variance == pytest.approx(linearised, rel=1e-9)


@given(
    values=st.lists(st.floats(min_value=0, max_value=1e4, allow_nan=False), min_size=3, max_size=40),
    scale=st.floats(min_value=0.01, max_value=100),
)
def test_with_one_order_per_visitor_order_value_is_welchs_mean_and_scales_with_money(values, scale):
    one_each = ratio_arm_of(values, [1] * len(values))
    welch = arm_of(values)
    # sums of squares cancel to within rounding of the largest square
    rounding = 1e-12 * (max(values) * max(scale, 1) + 1) ** 2
    assert one_each.mean == pytest.approx(welch.mean)
    assert one_each.mean_variance == pytest.approx(welch.mean_variance, rel=1e-6, abs=rounding)
    scaled = ratio_arm_of([v * scale for v in values], [1] * len(values))
    assert scaled.mean_variance == pytest.approx(scale**2 * one_each.mean_variance, rel=1e-6, abs=rounding)


def _shoppers(rng, n: int, *, lift: float = 0.0):
    """n visitors of a shop where a visitor's baskets are alike: each has a typical basket
    (lognormal) and orders Poisson times at a rate of their own; an order is the typical basket
    times lognormal noise. The true order value is E[basket] * E[noise] * (1 + lift)."""
    basket = rng.lognormal(3.0, 0.8, n)
    orders = rng.poisson(rng.gamma(0.5, 1.2, n))
    owner = np.repeat(np.arange(n), orders)
    values = basket[owner] * rng.lognormal(0, 0.2, owner.size) * (1 + lift)
    revenue = np.bincount(owner, weights=values, minlength=n)
    return revenue, orders, values


TRUE_ORDER_VALUE = math.exp(3.0 + 0.8**2 / 2) * math.exp(0.2**2 / 2)


def test_the_delta_method_interval_covers_the_true_order_value_lift_and_the_naive_one_does_not():
    """Coverage of the 95% interval on the lift of order value over 1,000 simulated tests of
    2,000 visitors an arm, half with a true 10% lift. A t-test over orders treats a heavy buyer's
    similar baskets as independent draws and is far too narrow."""
    rng = np.random.default_rng(17)
    delta_covered = naive_covered = 0
    for index in range(TESTS):
        lift = 0.1 if index % 2 else 0.0
        revenue_a, orders_a, values_a = _shoppers(rng, 2000)
        revenue_b, orders_b, values_b = _shoppers(rng, 2000, lift=lift)
        truth = TRUE_ORDER_VALUE * lift
        delta = ratio_test(control=ratio_arm_of(revenue_a, orders_a), treatment=ratio_arm_of(revenue_b, orders_b))
        naive = welch_t_test(control=arm_of(values_a), treatment=arm_of(values_b))
        delta_covered += delta.absolute_interval.low <= truth <= delta.absolute_interval.high
        naive_covered += naive.absolute_interval.low <= truth <= naive.absolute_interval.high
    assert 0.93 <= delta_covered / TESTS <= 0.97
    assert naive_covered / TESTS < 0.90


def test_the_simulate_command_refuses_too_few_tests_with_a_reason():
    with pytest.raises(CommandError, match="at least 10 tests"):
        call_command("experiments_simulate", tests=5)
