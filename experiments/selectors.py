"""Reads of experiments: each variant's metrics from the event record, and the report's figures.

A visitor counts for the variant of their first exposure, from that moment on: what they did
before seeing it cannot be its effect. Rates are per exposed visitor (did they click the slot,
add to cart, order); revenue is per exposed visitor, zero for those who bought nothing; average
order value is their revenue over their orders, a ratio with the visitor as its unit.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from tracking.models import Event
from tracking.owners import owner_key
from tracking.registry import EventName, Source

from .models import Experiment, Metric
from .stats import (
    Arm,
    Effect,
    RatioArm,
    SampleRatio,
    chance_to_beat_control,
    holm,
    proportion_z_test,
    ratio_test,
    sample_ratio,
    sequential,
    welch_t_test,
)

PROPORTIONS = {Metric.SLOT_CTR, Metric.ADD_TO_CART, Metric.CONVERSION}
OUTCOMES = (EventName.SELECT_ITEM, EventName.CLICK, EventName.ADD_TO_CART, EventName.PURCHASE)


@dataclass
class Unit:
    """One exposed owner: their variant, first exposure, and what they did after it."""

    variant: str
    first_seen: object
    tracker: bool = False  # the browser tracker sent anything: ad blockers hide it, bots lack it
    signed_in: bool = False
    clicked: bool = False
    carted: bool = False
    orders: list[float] = field(default_factory=list)

    def value(self, metric: str) -> float:
        if metric == Metric.SLOT_CTR:
            return float(self.clicked)
        if metric == Metric.ADD_TO_CART:
            return float(self.carted)
        if metric == Metric.CONVERSION:
            return float(bool(self.orders))
        return sum(self.orders)


def experiment_units(*, experiment: Experiment) -> dict[str, Unit]:
    """Every owner the experiment exposed, by owner key, with what they did after exposure."""
    units: dict[str, Unit] = {}
    exposures = (
        Event.objects.filter(name=EventName.EXPERIMENT_EXPOSURE, properties__experiment=str(experiment.pk))
        .order_by("occurred_at")
        .values_list("visitor_id", "user_id", "properties", "occurred_at")
    )
    visitors = set()
    for visitor_id, user_id, properties, occurred_at in exposures:
        visitors.add(visitor_id)
        owner = owner_key(user_id=user_id, visitor_id=visitor_id)
        if owner not in units:
            units[owner] = Unit(variant=properties["variant"], first_seen=occurred_at, signed_in=bool(user_id))
    if not units:
        return units
    events = Event.objects.filter(visitor_id__in=visitors, occurred_at__gte=experiment.started_at).values_list(
        "visitor_id", "user_id", "name", "source", "properties", "occurred_at"
    )
    for visitor_id, user_id, name, source, properties, occurred_at in events.iterator(chunk_size=5000):
        unit = units.get(owner_key(user_id=user_id, visitor_id=visitor_id)) or units.get(
            owner_key(user_id=None, visitor_id=visitor_id)
        )
        if unit is None:
            continue
        unit.tracker |= source == Source.WEB
        if occurred_at < unit.first_seen:
            continue
        if name in (EventName.SELECT_ITEM, EventName.CLICK) and properties.get("slot") == experiment.slot:
            unit.clicked = True
        elif name == EventName.ADD_TO_CART:
            unit.carted = True
        elif name == EventName.PURCHASE:
            unit.orders.append(float(properties.get("value") or 0))
    return units


def arm_of(units: list[Unit], metric: str) -> Arm | RatioArm:
    if metric == Metric.AOV:
        return RatioArm.of([sum(unit.orders) for unit in units], [len(unit.orders) for unit in units])
    return Arm.of([unit.value(metric) for unit in units])


def _measurable(arm: Arm | RatioArm) -> bool:
    """Two units at least, and for a ratio something to divide by (an order)."""
    return arm.n >= 2 and (not isinstance(arm, RatioArm) or arm.denominator > 0)


def _fixed_effect(metric: str, control: Arm | RatioArm, treatment: Arm | RatioArm) -> Effect:
    if metric == Metric.AOV:
        return ratio_test(control=control, treatment=treatment)
    return (proportion_z_test if metric in PROPORTIONS else welch_t_test)(control=control, treatment=treatment)


@dataclass(frozen=True)
class MetricResult:
    metric: str
    variant: str
    control: Arm | RatioArm
    treatment: Arm | RatioArm
    effect: Effect | None  # sequential; None when either arm has no data
    fixed: Effect | None
    chance_to_beat: float | None
    adjusted_p: float | None = None


@dataclass(frozen=True)
class Report:
    experiment: Experiment
    counts: dict[str, int]
    srm: SampleRatio
    srm_breakdown: dict[str, SampleRatio]
    results: list[MetricResult]


def experiment_report(*, experiment: Experiment) -> Report:
    """Sample ratio (overall, and by tracker seen and sign-in, where a broken split shows first),
    then each metric of each treatment against control: the sequential interval to read while it
    runs, the fixed-horizon one beside it, chance to beat control, and Holm-adjusted p-values
    across the primary metric and guardrails."""
    variants = list(experiment.variants.all())
    control = next((v for v in variants if v.is_control), None)
    units = experiment_units(experiment=experiment)
    by_variant: dict[str, list[Unit]] = defaultdict(list)
    for unit in units.values():
        by_variant[unit.variant].append(unit)
    counts = {v.key: len(by_variant[v.key]) for v in variants}
    weights = [v.weight for v in variants]
    srm = sample_ratio(counts=list(counts.values()), weights=weights)
    breakdown = {}
    for label, test in (
        ("browser tracker seen", lambda u: u.tracker),
        ("server only (ad blocker or bot)", lambda u: not u.tracker),
        ("signed in", lambda u: u.signed_in),
        ("anonymous", lambda u: not u.signed_in),
    ):
        part = [sum(1 for u in by_variant[v.key] if test(u)) for v in variants]
        if sum(part):
            breakdown[label] = sample_ratio(counts=part, weights=weights)
    results = []
    metrics = [experiment.primary_metric, *[g for g in experiment.guardrails if g != experiment.primary_metric]]
    for variant in variants:
        if control is None or variant == control:
            continue
        for metric in metrics:
            a, b = arm_of(by_variant[control.key], metric), arm_of(by_variant[variant.key], metric)
            if not (_measurable(a) and _measurable(b)):
                results.append(MetricResult(metric, variant.key, a, b, None, None, None))
                continue
            proportion = metric in PROPORTIONS
            fixed = _fixed_effect(metric, a, b)
            results.append(
                MetricResult(
                    metric=metric,
                    variant=variant.key,
                    control=a,
                    treatment=b,
                    effect=sequential(fixed, n=a.n + b.n),
                    fixed=fixed,
                    chance_to_beat=chance_to_beat_control(control=a, treatment=b, proportion=proportion),
                )
            )
    tested = [r for r in results if r.effect is not None]
    adjusted = holm([r.effect.p_value for r in tested])
    by_id = {id(r): p for r, p in zip(tested, adjusted, strict=True)}
    results = [MetricResult(**{**r.__dict__, "adjusted_p": by_id.get(id(r))}) if id(r) in by_id else r for r in results]
    return Report(experiment=experiment, counts=counts, srm=srm, srm_breakdown=breakdown, results=results)
