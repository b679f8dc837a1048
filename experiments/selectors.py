"""Reads of experiments: each variant's metrics from the event record, and the report's figures.

A visitor counts for the variant of their first exposure, from that moment on: what they did
before seeing it cannot be its effect. Rates are per exposed visitor (did they click the slot,
add to cart, order); revenue is per exposed visitor, zero for those who bought nothing; average
order value is their revenue over their orders, a ratio with the visitor as its unit; session
length likewise their sessions' seconds over their sessions (a session is the tracker's: the events
under one session cookie, which lapses after TRACKING_SESSION_MINUTES of silence; each is measured
from its first to its last event after exposure). Revenue per visitor is adjusted by CUPED with
each visitor's revenue in the PRE_PERIOD before their first exposure. A stopped experiment's
report counts nothing after it stopped.

A bandit's report reads its two halves apart: the fixed split as any A/B test (visitors from
their first exposure), and the bandit by exposure, each with the propensity it was drawn with,
so each arm's click-through is estimated by inverse-propensity weighting.
"""

import bisect
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from django.utils import timezone

from tracking.models import Event
from tracking.owners import owner_key
from tracking.registry import EventName, Source

from .assignment import BANDIT, SPLIT
from .models import Experiment, Metric
from .stats import (
    Arm,
    Effect,
    Estimate,
    RatioArm,
    SampleRatio,
    chance_to_beat_control,
    cuped_adjust,
    holm,
    ipw_mean,
    proportion_z_test,
    ratio_test,
    sample_ratio,
    sequential,
    welch_t_test,
)

PROPORTIONS = {Metric.SLOT_CTR, Metric.ADD_TO_CART, Metric.CONVERSION}
# Ratios of two per-visitor sums, the visitor as unit (delta method): order value is revenue over
# orders, session length seconds over sessions.
RATIOS = {Metric.AOV, Metric.SESSION_LENGTH}
# CUPED's covariate: revenue in the four weeks before a visitor's first exposure, long enough to
# hold a monthly shopper's last order, short enough to stay within the event record's retention.
PRE_PERIOD = timedelta(days=28)
# What a visitor's device is called when none of their events said (the browser tracker does not
# send one today; a client or import that sets the "device" property fills it).
NO_DEVICE = "not recorded"
# A bandit's reward: a click on the slot within this long of the exposure (and before the next).
REWARD_WINDOW = timedelta(days=1)
SLOT_CLICKS = (EventName.SELECT_ITEM, EventName.CLICK)


@dataclass
class Unit:
    """One exposed owner: their variant, first exposure, when they first did each thing after it,
    and their revenue in the pre-period before it."""

    variant: str
    first_seen: datetime
    tracker: bool = False  # the browser tracker sent anything: ad blockers hide it, bots lack it
    signed_in: bool = False
    device: str = NO_DEVICE
    clicked_at: datetime | None = None
    carted_at: datetime | None = None
    orders: list[tuple[datetime, float]] = field(default_factory=list)
    pre_revenue: float = 0.0
    # each session with an event after exposure: its first and last such event
    sessions: dict[uuid.UUID, list[datetime]] = field(default_factory=dict)

    def order_values(self, until: datetime | None = None) -> list[float]:
        return [value for at, value in self.orders if until is None or at < until]

    def session_seconds(self, until: datetime | None = None) -> list[float]:
        """The length of each session begun after exposure (and before until), first event to
        last: a session of one page is 0 s long, as analytics tools count it."""
        return [
            ((last if until is None else min(last, until)) - first).total_seconds()
            for first, last in self.sessions.values()
            if until is None or first < until
        ]

    def value(self, metric: str, until: datetime | None = None) -> float:
        """The metric for this visitor counting what happened before until (everything if None)."""
        if metric in (Metric.SLOT_CTR, Metric.ADD_TO_CART):
            at = self.clicked_at if metric == Metric.SLOT_CTR else self.carted_at
            return float(at is not None and (until is None or at < until))
        values = self.order_values(until)
        return float(bool(values)) if metric == Metric.CONVERSION else sum(values)


def report_end(experiment: Experiment) -> datetime:
    """Where the report's data end: when the experiment stopped, else now."""
    return experiment.stopped_at or timezone.now()


def experiment_units(*, experiment: Experiment) -> dict[str, Unit]:
    """Every owner the experiment exposed before it stopped, by owner key, with what they did
    after exposure (until it stopped) and their revenue in the pre-period before it."""
    if experiment.started_at is None:
        return {}  # a draft: nobody has seen it
    return exposed_units(
        experiment_id=str(experiment.pk), slot=experiment.slot, start=experiment.started_at, end=report_end(experiment)
    )


def exposed_units(*, experiment_id: str, slot: str | None, start: datetime, end: datetime) -> dict[str, Unit]:
    """Every owner with an exposure of experiment_id (an experiment's id, or the programme's
    HOLDOUT) between start and end, by owner key, from their first exposure in that time: what
    they did after it until end (clicks on slot, if any), and their revenue in the pre-period."""
    units: dict[str, Unit] = {}
    exposures = (
        Event.objects.filter(
            name=EventName.EXPERIMENT_EXPOSURE,
            properties__experiment=experiment_id,
            occurred_at__gte=start,
            occurred_at__lte=end,
        )
        .order_by("occurred_at")
        .values_list("visitor_id", "user_id", "properties", "occurred_at")
    )
    visitors = set()
    for visitor_id, user_id, properties, occurred_at in exposures:
        if properties.get("policy") == BANDIT:
            continue  # adaptive: read by exposure, with its propensity (bandit_report)
        visitors.add(visitor_id)
        owner = owner_key(user_id=user_id, visitor_id=visitor_id)
        if owner not in units:
            units[owner] = Unit(variant=properties["variant"], first_seen=occurred_at, signed_in=bool(user_id))
    if not units:
        return units
    # Only the three properties read below: whole property objects (a listing's items) made most
    # of the time of a report over a busy month.
    events = (
        Event.objects.filter(visitor_id__in=visitors, occurred_at__gte=start - PRE_PERIOD, occurred_at__lte=end)
        .order_by("occurred_at")
        .values_list(
            "visitor_id",
            "user_id",
            "name",
            "source",
            "session_id",
            "properties__device",
            "properties__slot",
            "properties__value",
            "occurred_at",
        )
    )
    for visitor_id, user_id, name, source, session_id, device, clicked_slot, value, occurred_at in events.iterator(
        chunk_size=5000
    ):
        unit = units.get(owner_key(user_id=user_id, visitor_id=visitor_id)) or units.get(
            owner_key(user_id=None, visitor_id=visitor_id)
        )
        if unit is None:
            continue
        if unit.device == NO_DEVICE and device:
            unit.device = str(device)
        if occurred_at >= start:
            unit.tracker |= source == Source.WEB
        if occurred_at < unit.first_seen:
            if name == EventName.PURCHASE and occurred_at >= unit.first_seen - PRE_PERIOD:
                unit.pre_revenue += float(value or 0)
            continue
        if session_id is not None:
            unit.sessions.setdefault(session_id, [occurred_at, occurred_at])[1] = occurred_at
        if name in SLOT_CLICKS and slot is not None and clicked_slot == slot:
            unit.clicked_at = unit.clicked_at or occurred_at
        elif name == EventName.ADD_TO_CART:
            unit.carted_at = unit.carted_at or occurred_at
        elif name == EventName.PURCHASE:
            unit.orders.append((occurred_at, float(value or 0)))
    return units


def arm_of(units: list[Unit], metric: str, until: datetime | None = None) -> Arm | RatioArm:
    """The sums of a metric over the units first exposed before until, counting what they did
    before until; revenue carries the pre-period revenue as CUPED's covariate."""
    units = [unit for unit in units if until is None or unit.first_seen < until]
    if metric in RATIOS:
        read = Unit.order_values if metric == Metric.AOV else Unit.session_seconds
        values = [read(unit, until) for unit in units]
        return RatioArm.of([sum(v) for v in values], [len(v) for v in values])
    pre = [unit.pre_revenue for unit in units] if metric == Metric.REVENUE else None
    return Arm.of([unit.value(metric, until) for unit in units], pre=pre)


def _measurable(arm: Arm | RatioArm) -> bool:
    """Two units at least, and for a ratio something to divide by (an order, a session)."""
    return arm.n >= 2 and (not isinstance(arm, RatioArm) or arm.denominator > 0)


def _fixed_effect(metric: str, control: Arm | RatioArm, treatment: Arm | RatioArm) -> Effect:
    if metric in RATIOS:
        return ratio_test(control=control, treatment=treatment)
    return (proportion_z_test if metric in PROPORTIONS else welch_t_test)(control=control, treatment=treatment)


@dataclass(frozen=True)
class MetricResult:
    metric: str
    variant: str
    control: Arm | RatioArm  # as measured, before any adjustment
    treatment: Arm | RatioArm
    effect: Effect | None  # sequential (CUPED-adjusted for revenue); None when either arm has no data
    fixed: Effect | None
    chance_to_beat: float | None
    adjusted_p: float | None = None
    unadjusted: Effect | None = None  # revenue: the sequential effect without CUPED, for comparison
    variance_reduction: float | None = None  # revenue: the share of the lift's variance CUPED removed


def metric_result(
    *, metric: str, variant: str, control: list[Unit], treatment: list[Unit], until: datetime | None = None
) -> MetricResult:
    """One metric of one treatment against control over the units exposed before until: the
    sequential effect to read, the fixed-horizon one beside it, chance to beat control; revenue
    per visitor CUPED-adjusted, with the unadjusted effect and the variance removed."""
    a, b = arm_of(control, metric, until), arm_of(treatment, metric, until)
    if not (_measurable(a) and _measurable(b)):
        return MetricResult(metric, variant, a, b, None, None, None)
    n = a.n + b.n
    unadjusted = reduction = None
    tested_a, tested_b = a, b
    if metric == Metric.REVENUE:
        tested_a, tested_b = cuped_adjust(control=a, treatment=b)
    fixed = _fixed_effect(metric, tested_a, tested_b)
    if metric == Metric.REVENUE:
        raw = _fixed_effect(metric, a, b)
        unadjusted = sequential(raw, n=n)
        reduction = 1 - fixed.standard_error**2 / raw.standard_error**2 if raw.standard_error else 0.0
    return MetricResult(
        metric=metric,
        variant=variant,
        control=a,
        treatment=b,
        effect=sequential(fixed, n=n),
        fixed=fixed,
        chance_to_beat=chance_to_beat_control(control=tested_a, treatment=tested_b, proportion=metric in PROPORTIONS),
        unadjusted=unadjusted,
        variance_reduction=reduction,
    )


@dataclass(frozen=True)
class Report:
    experiment: Experiment
    end: datetime  # the data stop here: when the experiment stopped, else when the report was made
    counts: dict[str, int]
    srm: SampleRatio
    srm_breakdown: dict[str, SampleRatio]
    results: list[MetricResult]
    # per treatment, the primary metric's effect on everyone exposed by the end of each day
    lift_over_time: dict[str, list[tuple[datetime, Effect | None]]]
    # per device, the primary metric of each treatment against control on that device's visitors
    by_device: dict[str, list[MetricResult]]
    device_recorded: float  # the share of exposed visitors whose events said their device


def daily_cutoffs(*, start: datetime, end: datetime) -> list[datetime]:
    """The end of each whole day of an experiment after its start, then its end."""
    cutoffs, day = [], start + timedelta(days=1)
    while day < end:
        cutoffs.append(day)
        day += timedelta(days=1)
    return [*cutoffs, end]


def experiment_report(*, experiment: Experiment) -> Report:
    """Sample ratio (overall, and by tracker seen, sign-in and device, where a broken split shows
    first), then each metric of each treatment against control (see metric_result) with
    Holm-adjusted p-values across the primary metric and guardrails; the primary metric's lift
    day by day, and by device."""
    variants = list(experiment.variants.all())
    control = next((v for v in variants if v.is_control), None)
    treatments = [v for v in variants if control is not None and v != control]
    units = list(experiment_units(experiment=experiment).values())
    by_variant: dict[str, list[Unit]] = defaultdict(list)
    for unit in units:
        by_variant[unit.variant].append(unit)
    counts = {v.key: len(by_variant[v.key]) for v in variants}
    weights = [v.weight for v in variants]
    srm = sample_ratio(counts=list(counts.values()), weights=weights)
    devices = Counter(unit.device for unit in units)
    breakdown = {}
    for label, test in (
        ("browser tracker seen", lambda u: u.tracker),
        ("server only (ad blocker or bot)", lambda u: not u.tracker),
        ("signed in", lambda u: u.signed_in),
        ("anonymous", lambda u: not u.signed_in),
        *((f"device: {device}", lambda u, d=device: u.device == d) for device in sorted(devices)),
    ):
        part = [sum(1 for u in by_variant[v.key] if test(u)) for v in variants]
        if sum(part):
            breakdown[label] = sample_ratio(counts=part, weights=weights)
    primary = experiment.primary_metric
    metrics = [primary, *[g for g in experiment.guardrails if g != primary]]
    results = [
        metric_result(metric=metric, variant=v.key, control=by_variant[control.key], treatment=by_variant[v.key])
        for v in treatments
        for metric in metrics
    ]
    tested = [r for r in results if r.effect is not None]
    adjusted = dict(zip(map(id, tested), holm([r.effect.p_value for r in tested]), strict=True))
    results = [replace(r, adjusted_p=adjusted[id(r)]) if id(r) in adjusted else r for r in results]
    end = report_end(experiment)
    lift_over_time = {
        v.key: [
            (until, metric_result(metric=primary, variant=v.key, control=by_variant[control.key],
                                  treatment=by_variant[v.key], until=until).effect)
            for until in daily_cutoffs(start=experiment.started_at, end=end)
        ]
        for v in treatments
        if experiment.started_at
    }  # fmt: skip
    by_device = {
        device: [
            metric_result(
                metric=primary,
                variant=v.key,
                control=[u for u in by_variant[control.key] if u.device == device],
                treatment=[u for u in by_variant[v.key] if u.device == device],
            )
            for v in treatments
        ]
        for device in sorted(devices)
    }
    return Report(
        experiment=experiment,
        end=end,
        counts=counts,
        srm=srm,
        srm_breakdown=breakdown,
        results=results,
        lift_over_time=lift_over_time,
        by_device=by_device,
        device_recorded=1 - devices[NO_DEVICE] / len(units) if units else 0.0,
    )


@dataclass(frozen=True)
class Exposure:
    """One recorded exposure of an experiment: whose, which variant by which policy with which
    chance, and its reward (1 when the owner clicked the slot within REWARD_WINDOW and before
    their next exposure)."""

    owner: str
    variant: str
    policy: str
    propensity: float
    at: datetime
    reward: float = 0.0


def bandit_exposures(*, experiment: Experiment) -> list[Exposure]:
    """Every exposure of the experiment until it stopped, with its reward from the record."""
    end = report_end(experiment)
    rows = Event.objects.filter(
        name=EventName.EXPERIMENT_EXPOSURE, properties__experiment=str(experiment.pk), occurred_at__lte=end
    ).values_list("visitor_id", "user_id", "properties", "occurred_at")
    exposures: dict[str, list[Exposure]] = defaultdict(list)
    visitors = set()
    for visitor_id, user_id, properties, occurred_at in rows.order_by("occurred_at", "id").iterator(chunk_size=5000):
        visitors.add(visitor_id)
        exposures[owner_key(user_id=user_id, visitor_id=visitor_id)].append(
            Exposure(
                owner=owner_key(user_id=user_id, visitor_id=visitor_id),
                variant=properties["variant"],
                policy=properties.get("policy") or SPLIT,
                propensity=float(properties.get("propensity") or 1.0),
                at=occurred_at,
            )
        )
    if not exposures:
        return []
    clicks = Event.objects.filter(
        name__in=SLOT_CLICKS,
        visitor_id__in=visitors,
        properties__slot=experiment.slot,
        occurred_at__gte=experiment.started_at,
        occurred_at__lte=end,
    ).values_list("visitor_id", "user_id", "occurred_at")
    times = {owner: [e.at for e in own] for owner, own in exposures.items()}
    rewarded: set[tuple[str, int]] = set()
    for visitor_id, user_id, occurred_at in clicks.iterator(chunk_size=5000):
        owner = owner_key(user_id=user_id, visitor_id=visitor_id)
        index = bisect.bisect_right(times.get(owner, []), occurred_at) - 1
        if index >= 0 and occurred_at - times[owner][index] < REWARD_WINDOW:
            rewarded.add((owner, index))
    return [
        replace(exposure, reward=float((owner, index) in rewarded))
        for owner, own in exposures.items()
        for index, exposure in enumerate(own)
    ]


@dataclass(frozen=True)
class BanditArm:
    key: str
    share: float  # of the bandit's traffic now
    exposures: int  # the bandit's exposures of this arm
    clicks: float
    naive: float  # clicks over the arm's exposures: biased under a bandit
    ipw: Estimate  # click-through the arm would have on all the bandit's traffic
    split: Arm  # the fixed split's exposures of this arm, clicks as successes


@dataclass(frozen=True)
class BanditReport:
    arms: list[BanditArm]
    updated_at: datetime | None
    bandit: Arm  # all the bandit's exposures, clicks as successes
    split: Arm  # all the fixed split's
    effect: Effect | None  # the bandit's click-through against the fixed split's


def bandit_report(*, experiment: Experiment) -> BanditReport:
    """Each arm by inverse-propensity weighting over the bandit's exposures, beside the plain
    mean and the fixed split; and the bandit as a whole against the fixed split."""
    exposures = bandit_exposures(experiment=experiment)
    bandit = [e for e in exposures if e.policy == BANDIT]
    split = [e for e in exposures if e.policy != BANDIT]
    shares = experiment.bandit_shares or {}

    def rate(items: list[Exposure]) -> Arm:
        return Arm.proportion(n=len(items), successes=int(sum(e.reward for e in items)))

    arms = []
    for variant in experiment.variants.all():
        own = [e for e in bandit if e.variant == variant.key]
        clicks = sum(e.reward for e in own)
        arms.append(
            BanditArm(
                key=variant.key,
                share=float(shares.get(variant.key, 0.0)),
                exposures=len(own),
                clicks=clicks,
                naive=clicks / len(own) if own else 0.0,
                ipw=ipw_mean(
                    rewards=[e.reward for e in own], propensities=[e.propensity for e in own], total=len(bandit)
                ),
                split=rate([e for e in split if e.variant == variant.key]),
            )
        )
    bandit_arm, split_arm = rate(bandit), rate(split)
    effect = None
    if bandit_arm.n >= 2 and split_arm.n >= 2:
        effect = sequential(proportion_z_test(control=split_arm, treatment=bandit_arm), n=bandit_arm.n + split_arm.n)
    return BanditReport(
        arms=arms, updated_at=experiment.bandit_updated_at, bandit=bandit_arm, split=split_arm, effect=effect
    )
