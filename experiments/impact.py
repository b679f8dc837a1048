"""Reads of personalization's impact: the global holdout against everyone else, and the orders
recommendation slots brought (a click on a slot's product, then that product bought in the session).

The holdout's comparison counts visitors as any experiment does (experiments.selectors): each from
their first programme exposure in the period, in the holdout or personalized, with the same
statistics (sequential intervals, CUPED on revenue per visitor).

Attribution is last click within the session: each line of a purchase goes to the last click on
that product, in any slot, earlier in the same session (the tracker's session cookie, which the
server's purchase event carries too). A click in another session, or a purchase of another
product, is not the slot's doing. Its revenue is the attributed lines' price times quantity, not
the order's total (shipping and the other lines are not the slot's).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from tracking.models import Event
from tracking.registry import EventName

from .assignment import HOLDOUT, PERSONALIZED
from .models import Metric
from .selectors import SLOT_CLICKS, MetricResult, daily_cutoffs, exposed_units, metric_result
from .stats import Effect, Estimate, SampleRatio, proportion_interval, sample_ratio

# What the holdout is judged on: what the programme exists to move.
HOLDOUT_METRICS = (Metric.CONVERSION, Metric.REVENUE, Metric.ADD_TO_CART)
# A click's algorithm when the card did not say (an old page, a hand-made link).
NO_ALGORITHM = "not recorded"


@dataclass(frozen=True)
class HoldoutReport:
    percent: float  # of visitors held out, as set now
    counts: dict[str, int]  # exposed visitors: holdout, personalized
    srm: SampleRatio | None  # None when no holdout is set
    results: list[MetricResult]  # personalized (treatment) against the holdout (control)
    lift_over_time: list[tuple[datetime, Effect | None]]  # revenue per visitor, by the end of each day


def holdout_report(*, start: datetime, end: datetime, percent: float) -> HoldoutReport:
    """Visitors exposed to the programme between start and end, the held out against the
    personalized: visitors, the holdout's metrics each with the lift and its sequential interval,
    the split checked for sample-ratio mismatch, and revenue per visitor's lift day by day."""
    end = min(end, timezone.now())
    units = exposed_units(experiment_id=HOLDOUT, slot=None, start=start, end=end).values()
    held = [unit for unit in units if unit.variant == HOLDOUT]
    personalized = [unit for unit in units if unit.variant == PERSONALIZED]
    counts = {HOLDOUT: len(held), PERSONALIZED: len(personalized)}
    srm = sample_ratio(counts=list(counts.values()), weights=[percent, 100 - percent]) if 0 < percent < 100 else None

    def lift(metric: str, until: datetime | None = None) -> MetricResult:
        return metric_result(metric=metric, variant=PERSONALIZED, control=held, treatment=personalized, until=until)

    return HoldoutReport(
        percent=percent,
        counts=counts,
        srm=srm,
        results=[lift(metric) for metric in HOLDOUT_METRICS],
        lift_over_time=[(until, lift(Metric.REVENUE, until).effect) for until in daily_cutoffs(start=start, end=end)],
    )


@dataclass
class _Tally:
    clicks: int = 0
    sessions: set = field(default_factory=set)  # sessions with a click here
    converted: set = field(default_factory=set)  # ...in which a product clicked here was bought
    orders: set = field(default_factory=set)  # purchases with a line attributed here
    units: int = 0
    revenue: float = 0.0

    def merge(self, other: "_Tally") -> None:
        self.clicks += other.clicks
        self.sessions |= other.sessions
        self.converted |= other.converted
        self.orders |= other.orders
        self.units += other.units
        self.revenue += other.revenue


@dataclass(frozen=True)
class SlotImpact:
    """What the clicks on one slot (or one algorithm, or one slot's algorithm) brought."""

    slot: str  # "" in the by-algorithm rows
    algorithm: str  # "" in the by-slot rows
    clicks: int
    sessions: int
    orders: int
    units: int
    revenue: float
    conversion: Estimate  # sessions with a click here in which a product clicked here was bought

    @classmethod
    def of(cls, tally: _Tally, *, slot: str = "", algorithm: str = "") -> "SlotImpact":
        return cls(
            slot=slot,
            algorithm=algorithm,
            clicks=tally.clicks,
            sessions=len(tally.sessions),
            orders=len(tally.orders),
            units=tally.units,
            revenue=round(tally.revenue, 2),
            conversion=proportion_interval(n=len(tally.sessions), successes=len(tally.converted)),
        )


@dataclass(frozen=True)
class AttributionReport:
    by_slot: list[SlotImpact]  # most revenue first
    by_algorithm: list[SlotImpact]
    by_slot_algorithm: list[SlotImpact]
    revenue: float  # every purchase's value in the period
    orders: int

    @property
    def attributed_revenue(self) -> float:
        return round(sum(row.revenue for row in self.by_slot), 2)

    @property
    def attributed_share(self) -> float | None:
        return self.attributed_revenue / self.revenue if self.revenue else None


def _line_values(properties: dict) -> dict[int, tuple[int, float]]:
    """Each product a purchase bought: its units and what its line cost (price times quantity)."""
    lines: dict[int, tuple[int, float]] = {}
    for entry in properties.get("items") or []:
        if not isinstance(entry, dict):
            continue
        try:
            product, quantity = int(entry.get("item_id")), max(int(entry.get("quantity") or 1), 1)
            price = float(entry.get("price") or 0)
        except (TypeError, ValueError):
            continue  # an item that names no product of ours
        units, value = lines.get(product, (0, 0.0))
        lines[product] = (units + quantity, value + price * quantity)
    return lines


def _rows(tallies: dict, make) -> list[SlotImpact]:
    rows = [make(key, tally) for key, tally in tallies.items()]
    return sorted(rows, key=lambda r: (-r.revenue, -r.clicks, r.slot, r.algorithm))


def _grouped(tallies: dict[tuple[str, str], _Tally], index: int) -> dict[str, _Tally]:
    grouped: dict[str, _Tally] = defaultdict(_Tally)
    for key, tally in tallies.items():
        grouped[key[index]].merge(tally)
    return grouped


def attribution_report(*, start: datetime, end: datetime) -> AttributionReport:
    """The slot clicks between start and end and the purchases in their sessions: per slot, per
    algorithm and per slot and algorithm, the clicks, the sessions with one, the orders and units
    and revenue of the clicked products bought later in the session, and the share of those
    sessions that bought one (with its interval)."""
    clicks = (
        Event.objects.filter(
            name__in=SLOT_CLICKS,
            occurred_at__gte=start,
            occurred_at__lt=end,
            session_id__isnull=False,
            product_id__isnull=False,
            properties__has_key="slot",
        )
        .order_by("occurred_at", "id")
        .values_list("session_id", "product_id", "properties", "occurred_at")
    )
    tallies: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    # session -> product -> the clicks on it in time order: (when, slot, algorithm)
    clicked: dict = defaultdict(lambda: defaultdict(list))
    for session_id, product_id, properties, occurred_at in clicks.iterator(chunk_size=5000):
        key = (str(properties["slot"]), str(properties.get("algorithm") or NO_ALGORITHM))
        tallies[key].clicks += 1
        tallies[key].sessions.add(session_id)
        clicked[session_id][product_id].append((occurred_at, key))
    purchases = Event.objects.filter(name=EventName.PURCHASE, occurred_at__gte=start, occurred_at__lt=end)
    revenue, orders = 0.0, 0
    for event_id, session_id, properties, occurred_at in purchases.values_list(
        "event_id", "session_id", "properties", "occurred_at"
    ).iterator(chunk_size=5000):
        revenue += float(properties.get("value") or 0)
        orders += 1
        in_session = clicked.get(session_id) if session_id is not None else None
        if not in_session:
            continue
        for product, (units, value) in _line_values(properties).items():
            earlier = [key for at, key in in_session.get(product, ()) if at <= occurred_at]
            if earlier:
                tally = tallies[earlier[-1]]
                tally.orders.add(event_id)
                tally.converted.add(session_id)
                tally.units += units
                tally.revenue += value
    return AttributionReport(
        by_slot=_rows(_grouped(tallies, 0), lambda slot, t: SlotImpact.of(t, slot=slot)),
        by_algorithm=_rows(_grouped(tallies, 1), lambda algorithm, t: SlotImpact.of(t, algorithm=algorithm)),
        by_slot_algorithm=_rows(tallies, lambda key, t: SlotImpact.of(t, slot=key[0], algorithm=key[1])),
        revenue=round(revenue, 2),
        orders=orders,
    )
