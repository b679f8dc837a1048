"""A segment's condition tree: typed nodes parsed from JSON, never evaluated as code.

The JSON a merchandiser writes (every node is one object with one kind of key):

    {"all": [...]}, {"any": [...]}, {"not": {...}}
    {"event": "view_item", "within": "30m", "at_least": 3, "where": {"category": 5}}
    {"event": "view_item", "in_session": true, "at_least": 3}        this session
    {"event": "purchase", "within": "24h", "at_most": 0}             absence
    {"aggregate": "avg", "of": "purchase", "within": "90d", "above": 100}
    {"tenure": {"at_least": "30d"}}                                  first seen 30 days ago or more
    {"source": "newsletter", "within": "30d"}                        came with utm_source=newsletter
    {"device": "phone", "within": "7d"}                              desktop, phone or tablet
    {"feature": "orders", "at_least": 2}                             lifetime profile features
    {"segment": "cart-abandoners"}                                   membership of another segment

Each leaf over events reads one Counter: which events (name and filters), and whether it is
counted by minute (for windows), by session, or over all time. Parse errors name the path of
the wrong part ("all[1].within") so the admin form can say where it is.
"""

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

from tracking.devices import DEVICES
from tracking.registry import REGISTRY, EventName

MINUTE = 60
# Windows are counted in whole minutes, and a window longer than a year would keep every
# event of a visitor in Redis: a definition that asks for ten years is refused, not truncated.
MAX_WINDOW = timedelta(days=365)
# A tree deeper or larger than a merchandiser writes by hand is a mistake or an attack on the evaluator.
MAX_DEPTH = 8
MAX_NODES = 64
WINDOW_PATTERN = re.compile(r"^(\d{1,6})([mhd])$")
UNITS = {"m": 1, "h": 60, "d": 60 * 24}

FILTERS = ("category", "product", "utm_source", "device")

AGGREGATES = ("sum", "avg")
# Lifetime features of the live profile, each a counter over all of an owner's events.
FEATURES = {
    "orders": ("purchase", "count"),
    "spend": ("purchase", "sum"),
    "product_views": ("view_item", "count"),
    "cart_adds": ("add_to_cart", "count"),
    "searches": ("search", "count"),
}


class ConditionError(ValueError):
    def __init__(self, path: str, message: str):
        self.path = path
        super().__init__(f"{path or 'the definition'}: {message}")


@dataclass(frozen=True)
class Counter:
    """What an owner's events are counted by: name, filters, and minute, session or all-time buckets."""

    event: str
    where: tuple[tuple[str, str], ...] = ()
    scope: str = "minute"  # "minute" (windows), "session" or "all"

    @cached_property
    def id(self) -> str:
        # Cached: every evaluation looks counters up by id, and a digest per look-up was most of a batch's cost.
        raw = json.dumps([self.event, list(self.where), self.scope])
        return hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()[:10]


@dataclass(frozen=True)
class Node:
    def children(self) -> tuple["Node", ...]:
        return ()


@dataclass(frozen=True)
class All(Node):
    parts: tuple[Node, ...]

    def children(self):
        return self.parts


@dataclass(frozen=True)
class Any(Node):
    parts: tuple[Node, ...]

    def children(self):
        return self.parts


@dataclass(frozen=True)
class Not(Node):
    part: Node

    def children(self):
        return (self.part,)


@dataclass(frozen=True)
class Count(Node):
    """How many of the counter's events fall in the window (minutes), the session or all time."""

    counter: Counter
    window: int | None  # minutes; None for session or all-time counters
    at_least: int = 1
    at_most: int | None = None


@dataclass(frozen=True)
class Aggregate(Node):
    """The sum or average of the events' value (in cents) in the window, above and/or below a bound."""

    counter: Counter
    window: int | None
    function: str
    above: int | None = None  # cents, exclusive
    below: int | None = None


@dataclass(frozen=True)
class Tenure(Node):
    """First seen at least (or at most) this many minutes ago."""

    at_least: int | None = None
    at_most: int | None = None


@dataclass(frozen=True)
class InSegment(Node):
    slug: str


@dataclass(frozen=True)
class Definition:
    root: Node
    counters: frozenset[Counter] = field(default_factory=frozenset)
    references: frozenset[str] = field(default_factory=frozenset)


def window_minutes(value, path: str) -> int:
    match = WINDOW_PATTERN.match(value) if isinstance(value, str) else None
    if not match:
        raise ConditionError(path, f"{value!r} is not a window: write a number and m, h or d, e.g. 30m, 24h, 7d")
    minutes = int(match.group(1)) * UNITS[match.group(2)]
    if minutes <= 0:
        raise ConditionError(path, "a window must be at least one minute")
    if minutes > MAX_WINDOW.total_seconds() / MINUTE:
        raise ConditionError(path, f"a window may be at most {MAX_WINDOW.days} days")
    return minutes


def _count(value, path: str, *, allow_none: bool = True) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 1_000_000:
        raise ConditionError(path, f"{value!r} is not a count from 0 to 1,000,000")
    return value


def money_cents(value, path: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 10**9:
        raise ConditionError(path, f"{value!r} is not an amount from 0 to 1,000,000,000")
    return round(value * 100)


def event_name(value, path: str) -> str:
    if not isinstance(value, str) or value not in REGISTRY:
        known = ", ".join(EventName.values)
        raise ConditionError(path, f"no event is named {value!r}; the events are {known}")
    return value


def _where(value, path: str) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise ConditionError(path, 'where must be an object such as {"category": 5}')
    pairs = []
    for key, item in sorted(value.items()):
        if key not in FILTERS:
            raise ConditionError(f"{path}.{key}", f"no such field; filter by {', '.join(FILTERS)}")
        if key in ("category", "product") and (isinstance(item, bool) or not isinstance(item, int)):
            raise ConditionError(f"{path}.{key}", f"{key} is an id (a whole number)")
        if key not in ("category", "product") and (not isinstance(item, str) or not 0 < len(item) <= 100):
            raise ConditionError(f"{path}.{key}", f"{key} is a text of 1 to 100 characters")
        if key == "device" and item not in DEVICES:
            raise ConditionError(f"{path}.{key}", f"{item!r} is not a device; the tracker sends {', '.join(DEVICES)}")
        pairs.append((key, str(item)))
    return tuple(pairs)


def keys_check(node: dict, path: str, allowed: set[str]) -> None:
    unknown = sorted(set(node) - allowed)
    if unknown:
        raise ConditionError(
            f"{path}.{unknown[0]}" if path else unknown[0], f"unknown field; use {', '.join(sorted(allowed))}"
        )


def _scope(node: dict, path: str) -> tuple[str, int | None]:
    """A leaf's window: minutes, this session, or (neither given) all time."""
    if node.get("in_session") and "within" in node:
        raise ConditionError(path, "give either within or in_session, not both")
    if node.get("in_session"):
        return "session", None
    if "within" in node:
        return "minute", window_minutes(node["within"], f"{path}.within")
    return "all", None


def _parse(node, path: str, depth: int, seen: list[int]) -> Node:
    seen[0] += 1
    if seen[0] > MAX_NODES:
        raise ConditionError(path, f"a definition may have at most {MAX_NODES} conditions")
    if depth > MAX_DEPTH:
        raise ConditionError(path, f"conditions may nest at most {MAX_DEPTH} deep")
    if not isinstance(node, dict) or not node:
        raise ConditionError(path, 'each condition is an object such as {"event": "purchase", "within": "7d"}')
    prefix = f"{path}." if path else ""
    if "all" in node or "any" in node:
        kind = "all" if "all" in node else "any"
        keys_check(node, path, {kind})
        parts = node[kind]
        if not isinstance(parts, list) or not parts:
            raise ConditionError(f"{prefix}{kind}", "must be a non-empty list of conditions")
        parsed = tuple(_parse(part, f"{prefix}{kind}[{i}]", depth + 1, seen) for i, part in enumerate(parts))
        return All(parsed) if kind == "all" else Any(parsed)
    if "not" in node:
        keys_check(node, path, {"not"})
        return Not(_parse(node["not"], f"{prefix}not", depth + 1, seen))
    if "event" in node:
        keys_check(node, path, {"event", "within", "in_session", "at_least", "at_most", "where"})
        scope, window = _scope(node, path)
        counter = Counter(
            event_name(node["event"], f"{prefix}event"), _where(node.get("where"), f"{prefix}where"), scope
        )
        at_least = _count(node.get("at_least"), f"{prefix}at_least")
        at_most = _count(node.get("at_most"), f"{prefix}at_most")
        if at_least is None:
            at_least = 0 if at_most is not None else 1
        if at_most is not None and at_most < at_least:
            raise ConditionError(f"{prefix}at_most", "is below at_least: nobody could match")
        return Count(counter, window, at_least, at_most)
    if "aggregate" in node:
        keys_check(node, path, {"aggregate", "of", "within", "in_session", "where", "above", "below"})
        if node["aggregate"] not in AGGREGATES:
            raise ConditionError(f"{prefix}aggregate", f"{node['aggregate']!r} is not one of {', '.join(AGGREGATES)}")
        event = event_name(node.get("of"), f"{prefix}of")
        if "value" not in REGISTRY[event].fields:
            raise ConditionError(f"{prefix}of", f"{event} carries no value to add up")
        scope, window = _scope(node, path)
        above, below = (
            money_cents(node.get("above"), f"{prefix}above"),
            money_cents(node.get("below"), f"{prefix}below"),
        )
        if above is None and below is None:
            raise ConditionError(path, "give above, below or both")
        counter = Counter(event, _where(node.get("where"), f"{prefix}where"), scope)
        return Aggregate(counter, window, node["aggregate"], above, below)
    if "tenure" in node:
        keys_check(node, path, {"tenure"})
        tenure = node["tenure"]
        if not isinstance(tenure, dict) or not tenure or set(tenure) - {"at_least", "at_most"}:
            raise ConditionError(f"{prefix}tenure", 'write {"at_least": "30d"} and/or {"at_most": "7d"}')
        return Tenure(
            *(
                window_minutes(tenure[key], f"{prefix}tenure.{key}") if key in tenure else None
                for key in ("at_least", "at_most")
            )
        )
    if "source" in node or "device" in node:
        kind = "source" if "source" in node else "device"
        keys_check(node, path, {kind, "within"})
        field_name = "utm_source" if kind == "source" else "device"
        where = _where({field_name: node[kind]}, f"{prefix}{kind}")
        scope, window = _scope(node, path)
        return Count(Counter(EventName.PAGE_VIEW, where, scope), window)
    if "feature" in node:
        keys_check(node, path, {"feature", "at_least", "at_most"})
        if not isinstance(node["feature"], str) or node["feature"] not in FEATURES:
            raise ConditionError(f"{prefix}feature", f"no feature {node['feature']!r}; use {', '.join(FEATURES)}")
        event, measure = FEATURES[node["feature"]]
        counter = Counter(event, (), "all")
        if measure == "sum":
            low, high = (
                money_cents(node.get("at_least"), f"{prefix}at_least"),
                money_cents(node.get("at_most"), f"{prefix}at_most"),
            )
            if low is None and high is None:
                # An amount with no bound would hold for everyone, buyers or not.
                raise ConditionError(path, "give at_least or at_most for an amount")
            return Aggregate(counter, None, "sum", None if low is None else low - 1, None if high is None else high + 1)
        low, high = _count(node.get("at_least"), f"{prefix}at_least"), _count(node.get("at_most"), f"{prefix}at_most")
        return Count(counter, None, 1 if low is None and high is None else (low or 0), high)
    if "segment" in node:
        keys_check(node, path, {"segment"})
        if not isinstance(node["segment"], str) or not node["segment"]:
            raise ConditionError(f"{prefix}segment", "name a segment by its slug")
        return InSegment(node["segment"])
    raise ConditionError(path, f"unknown condition {sorted(node)[0]!r}")


def nodes_walk(node: Node):
    """A condition tree's nodes, the root first."""
    yield node
    for child in node.children():
        yield from nodes_walk(child)


def definition_parse(raw) -> Definition:
    """The typed tree of a JSON definition; ConditionError naming the wrong part."""
    root = _parse(raw, "", 1, [0])
    nodes = list(nodes_walk(root))
    return Definition(
        root=root,
        counters=frozenset(node.counter for node in nodes if isinstance(node, Count | Aggregate)),
        references=frozenset(node.slug for node in nodes if isinstance(node, InSegment)),
    )
