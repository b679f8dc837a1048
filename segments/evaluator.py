"""The one evaluator: a condition tree over an owner's counters, whichever driver filled them.

Live, the counters are read from Redis (kept up by the ingest hook); as a backfill, they are
built from the Postgres record by the same increments(). Both then call evaluate(), so an
edited segment's backfill and the live path cannot disagree on what a condition means.

Time is counted in whole minutes: an event at minute m is inside a window of W minutes at
minute t while m > t - W, so it leaves the window at the start of minute m + W, which is the
due-time next_change() reports.
"""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import accumulate
from urllib.parse import parse_qs, urlsplit

from .conditions import Aggregate, All, Any, Count, Counter, Definition, InSegment, Node, Not, Tenure

MINUTE_MS = 60_000


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, the one conversion both drivers use (no float rounding)."""
    delta = moment - datetime(1970, 1, 1, tzinfo=moment.tzinfo)
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def utm_value(location, field: str = "utm_source") -> str | None:
    """A campaign parameter (utm_source, utm_campaign...) of a page's address, or None."""
    if not isinstance(location, str) or f"{field}=" not in location:
        return None
    values = parse_qs(urlsplit(location).query).get(field)
    return values[0] if values else None


def _matches(counter: Counter, *, name: str, product_id, category_id, properties: Mapping) -> bool:
    if counter.event != name:
        return False
    for key, wanted in counter.where:
        if key == "category":
            actual = category_id
        elif key == "product":
            actual = product_id
        elif key == "utm_source":
            actual = utm_value(properties.get("page_location"))
        else:
            actual = properties.get(key)
        if actual is None or str(actual) != wanted:
            return False
    return True


def _cents(properties: Mapping) -> int:
    value = properties.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return round(value * 100)


def increments(
    counters: Iterable[Counter], *, name: str, product_id, category_id, properties: Mapping, session_id, at_ms: int
) -> list[tuple[str, int]]:
    """The counter fields one event adds to, with how much: (field, amount) pairs."""
    out = []
    for counter in counters:
        if not _matches(counter, name=name, product_id=product_id, category_id=category_id, properties=properties):
            continue
        if counter.scope == "minute":
            bucket = str(at_ms // MINUTE_MS)
        elif counter.scope == "session":
            if session_id is None:
                continue
            bucket = str(session_id)
        else:
            bucket = "all"
        out.append((f"{counter.id}|c|{bucket}", 1))
        cents = _cents(properties)
        if cents:
            out.append((f"{counter.id}|s|{bucket}", cents))
    return out


@dataclass
class Facts:
    """One owner's counters by counter id and bucket, their first event and current session."""

    counts: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    sums: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    first_ms: int | None = None
    session: str | None = None
    # Minute buckets of one counter sorted, with running totals: fifty segments ask the same
    # counters for windows many times per owner, and a window's total is then two look-ups.
    _series: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_fields(cls, fields: Mapping[str, int], *, first_ms: int | None, session: str | None) -> "Facts":
        facts = cls(first_ms=first_ms, session=session)
        for key, value in fields.items():
            counter, kind, bucket = key.split("|", 2)
            (facts.counts if kind == "c" else facts.sums)[counter][bucket] = int(value)
        return facts

    def minutes(self, counter: Counter, *, sums: bool = False) -> tuple[list[int], list[int]]:
        """The counter's minute buckets in order, and the running total of their values."""
        key = (counter.id, sums)
        series = self._series.get(key)
        if series is None:
            buckets = (self.sums if sums else self.counts).get(counter.id, {})
            pairs = sorted((int(bucket), value) for bucket, value in buckets.items() if bucket.isdigit())
            series = self._series[key] = ([minute for minute, _ in pairs], list(accumulate(v for _, v in pairs)))
        return series

    def total(self, counter: Counter, window: int | None, now_minute: int, *, sums: bool = False) -> int:
        if counter.scope == "minute":
            minutes, running = self.minutes(counter, sums=sums)
            first = bisect_right(minutes, now_minute - window)
            return (running[-1] - (running[first - 1] if first else 0)) if first < len(minutes) else 0
        buckets = (self.sums if sums else self.counts).get(counter.id, {})
        if counter.scope == "session":
            return buckets.get(self.session, 0) if self.session else 0
        return buckets.get("all", 0)


def evaluate(node: Node, facts: Facts, *, now_ms: int, definitions: Mapping[str, Definition]) -> bool:
    """Whether the owner matches the tree at now_ms; InSegment evaluates the other segment's tree."""
    now_minute = now_ms // MINUTE_MS
    if isinstance(node, All):
        return all(evaluate(part, facts, now_ms=now_ms, definitions=definitions) for part in node.parts)
    if isinstance(node, Any):
        return any(evaluate(part, facts, now_ms=now_ms, definitions=definitions) for part in node.parts)
    if isinstance(node, Not):
        return not evaluate(node.part, facts, now_ms=now_ms, definitions=definitions)
    if isinstance(node, Count):
        count = facts.total(node.counter, node.window, now_minute)
        return count >= node.at_least and (node.at_most is None or count <= node.at_most)
    if isinstance(node, Aggregate):
        total = facts.total(node.counter, node.window, now_minute, sums=True)
        if node.function == "avg":
            count = facts.total(node.counter, node.window, now_minute)
            if not count:
                return False
            value = total / count
        else:
            value = total
        return (node.above is None or value > node.above) and (node.below is None or value < node.below)
    if isinstance(node, Tenure):
        if facts.first_ms is None:
            return False
        age = now_minute - facts.first_ms // MINUTE_MS
        return (node.at_least is None or age >= node.at_least) and (node.at_most is None or age <= node.at_most)
    if isinstance(node, InSegment):
        other = definitions.get(node.slug)
        return other is not None and evaluate(other.root, facts, now_ms=now_ms, definitions=definitions)
    raise TypeError(f"no evaluation for {type(node).__name__}")


def _moments(
    node: Node, facts: Facts, definitions: Mapping[str, Definition], seen: set[str], now_minute: int
) -> Iterable[int]:
    """Minutes at which time alone may change a leaf of the tree (for a window, the soonest after
    now_minute: when its oldest bucket inside leaves)."""
    if isinstance(node, Count | Aggregate) and node.counter.scope == "minute":
        minutes, _ = facts.minutes(node.counter)
        first = bisect_right(minutes, now_minute - node.window)
        if first < len(minutes):
            yield minutes[first] + node.window
    elif isinstance(node, Tenure) and facts.first_ms is not None:
        first = facts.first_ms // MINUTE_MS
        for minutes in (node.at_least, node.at_most):
            if minutes is not None:
                yield first + minutes + (0 if minutes == node.at_least else 1)
    elif isinstance(node, InSegment) and node.slug in definitions and node.slug not in seen:
        yield from _moments(definitions[node.slug].root, facts, definitions, seen | {node.slug}, now_minute)
    for child in node.children():
        yield from _moments(child, facts, definitions, seen, now_minute)


def next_change_ms(
    roots: Iterable[Node], facts: Facts, *, now_ms: int, definitions: Mapping[str, Definition]
) -> int | None:
    """The first moment after now_ms at which any of the trees may change with no new event."""
    now_minute = now_ms // MINUTE_MS
    moments = (minute for root in roots for minute in _moments(root, facts, definitions, set(), now_minute))
    later = [minute for minute in moments if minute > now_minute]
    return min(later) * MINUTE_MS if later else None


def sessions_alive(sessions: Mapping[str, int], *, last_ms: int | None, lifetime_ms: int) -> dict[str, int]:
    """The sessions (with their last event's ms) that may still get events: those whose last event
    is within a session's lifetime of the owner's last (an older one's cookie has expired)."""
    if last_ms is None:
        return {}
    return {session: at for session, at in sessions.items() if at >= last_ms - lifetime_ms}


def stale_fields(facts: Facts, *, horizons: Mapping[str, int], now_ms: int, alive: Collection[str]) -> list[str]:
    """Buckets trimming changes no answer of: minute buckets older than every window that reads
    them, and the buckets of sessions that are over (not alive, not the current one). The live
    path trims the same ones in shop/lua/segment_count.lua."""
    now_minute = now_ms // MINUTE_MS
    stale = []
    for kind, table in (("c", facts.counts), ("s", facts.sums)):
        for counter, buckets in table.items():
            horizon = horizons.get(counter)
            for bucket in buckets:
                if bucket.isdigit():
                    old = horizon is not None and int(bucket) <= now_minute - horizon
                else:
                    old = bucket != "all" and bucket != facts.session and bucket not in alive
                if old:
                    stale.append(f"{counter}|{kind}|{bucket}")
    return stale
