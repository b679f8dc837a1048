"""The one evaluator: a condition tree over an owner's counters, whichever driver filled them.

Live, the counters are read from Redis (kept up by the ingest hook); as a backfill, they are
built from the Postgres record by the same increments(). Both then judge with the same compiled
trees (judges_compile), so an edited segment's backfill and the live path cannot disagree on what
a condition means.

Time is counted in whole minutes: an event at minute m is inside a window of W minutes at
minute t while m > t - W, so it leaves the window at the start of minute m + W, which is the
due-time next_change_ms() reports.
"""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate
from urllib.parse import parse_qs, urlsplit

from .conditions import Aggregate, All, Any, Count, Counter, Definition, InSegment, Node, Not, Tenure

MINUTE_MS = 60_000


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch of an aware moment, the one conversion both drivers use (no
    float rounding)."""
    delta = moment - _EPOCH
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
    out, cents = [], None
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
        if cents is None:
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


# An owner's facts and the minute now -> whether they match one tree.
Judge = Callable[[Facts, int], bool]


def _reader(counter: Counter, window: int | None, *, sums: bool) -> Callable[[Facts, int], int]:
    """How many of the counter's events (or the sum of their value) count at a minute: those in
    the window, in the current session, or of all time."""
    if counter.scope == "minute":

        def in_window(facts: Facts, now_minute: int) -> int:
            minutes, running = facts.minutes(counter, sums=sums)
            first = bisect_right(minutes, now_minute - window)
            return (running[-1] - (running[first - 1] if first else 0)) if first < len(minutes) else 0

        return in_window
    counter_id = counter.id
    if counter.scope == "session":

        def in_session(facts: Facts, _now_minute: int) -> int:
            if not facts.session:
                return 0
            return (facts.sums if sums else facts.counts).get(counter_id, {}).get(facts.session, 0)

        return in_session
    return lambda facts, _now_minute: (facts.sums if sums else facts.counts).get(counter_id, {}).get("all", 0)


def judge_compile(node: Node, judges: Mapping[str, Judge]) -> Judge:
    """The tree as nested closures, made once per definition: fifty segments judged on every
    batch walked their nodes and type-tested each, most of the evaluator's time. InSegment asks
    judges for the other segment's judge when it is called, so the order of compiling is free."""
    if isinstance(node, All | Any):
        parts = tuple(judge_compile(part, judges) for part in node.parts)
        if isinstance(node, All):
            return lambda facts, now_minute: all(part(facts, now_minute) for part in parts)
        return lambda facts, now_minute: any(part(facts, now_minute) for part in parts)
    if isinstance(node, Not):
        part = judge_compile(node.part, judges)
        return lambda facts, now_minute: not part(facts, now_minute)
    if isinstance(node, Count):
        count, low, high = _reader(node.counter, node.window, sums=False), node.at_least, node.at_most
        if high is None:
            return lambda facts, now_minute: count(facts, now_minute) >= low
        return lambda facts, now_minute: low <= count(facts, now_minute) <= high
    if isinstance(node, Aggregate):
        total, above, below = _reader(node.counter, node.window, sums=True), node.above, node.below

        def bounded(value: float) -> bool:
            return (above is None or value > above) and (below is None or value < below)

        if node.function != "avg":
            return lambda facts, now_minute: bounded(total(facts, now_minute))
        count = _reader(node.counter, node.window, sums=False)

        def average(facts: Facts, now_minute: int) -> bool:
            events = count(facts, now_minute)
            return bool(events) and bounded(total(facts, now_minute) / events)

        return average
    if isinstance(node, Tenure):
        low, high = node.at_least, node.at_most

        def tenure(facts: Facts, now_minute: int) -> bool:
            if facts.first_ms is None:
                return False
            age = now_minute - facts.first_ms // MINUTE_MS
            return (low is None or age >= low) and (high is None or age <= high)

        return tenure
    if isinstance(node, InSegment):
        slug = node.slug

        def member(facts: Facts, now_minute: int) -> bool:
            other = judges.get(slug)
            return other is not None and other(facts, now_minute)

        return member
    raise TypeError(f"no evaluation for {type(node).__name__}")


def judges_compile(definitions: Mapping[str, Definition]) -> dict[str, Judge]:
    """Every definition's judge, by slug; a segment naming another finds it here."""
    judges: dict[str, Judge] = {}
    for slug, definition in definitions.items():
        judges[slug] = judge_compile(definition.root, judges)
    return judges


@dataclass(frozen=True)
class Clocks:
    """What time alone can change in a set of trees, each once however many trees share it: the
    windows of each minute counter, and the minutes after an owner's first event at which a
    tenure bound flips."""

    windows: tuple[tuple[Counter, tuple[int, ...]], ...]
    tenures: tuple[int, ...]


def clocks_of(roots: Iterable[Node], definitions: Mapping[str, Definition]) -> Clocks:
    """The clocks of the trees and of the segments they name."""
    windows: dict[Counter, set[int]] = defaultdict(set)
    tenures: set[int] = set()
    named: set[str] = set()
    todo = list(roots)
    while todo:
        node = todo.pop()
        if isinstance(node, Count | Aggregate) and node.counter.scope == "minute":
            windows[node.counter].add(node.window)
        elif isinstance(node, Tenure):
            # A tenure of at least N minutes starts to hold at minute N; one of at most N stops at N + 1.
            if node.at_least is not None:
                tenures.add(node.at_least)
            if node.at_most is not None:
                tenures.add(node.at_most + 1)
        elif isinstance(node, InSegment) and node.slug in definitions and node.slug not in named:
            named.add(node.slug)
            todo.append(definitions[node.slug].root)
        todo.extend(node.children())
    return Clocks(
        windows=tuple((counter, tuple(sorted(spans))) for counter, spans in windows.items()),
        tenures=tuple(sorted(tenures)),
    )


def next_change_ms(clocks: Clocks, facts: Facts, *, now_ms: int) -> int | None:
    """The first moment after now_ms at which a tree may change with no new event: for a window,
    when its oldest bucket inside leaves it; for a tenure, when it crosses a bound."""
    now_minute = now_ms // MINUTE_MS
    moments = []
    for counter, windows in clocks.windows:
        minutes, _ = facts.minutes(counter)
        for window in windows:
            first = bisect_right(minutes, now_minute - window)
            if first < len(minutes):
                moments.append(minutes[first] + window)
    if facts.first_ms is not None:
        first = facts.first_ms // MINUTE_MS
        moments.extend(first + bound for bound in clocks.tenures)
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
