"""A rule's trigger and conditions: typed nodes parsed from JSON, never evaluated as code.

Triggers (one object):

    {"page": "product"}                                   every product page
    {"page": "product", "product": 12}                    one product's page
    {"page": "category", "category": 3}                   one category's listing
    {"page": "search", "term": "mug"}                     a search for a term
    {"event": "view_item", "then_no": ["add_to_cart"], "within": "10m", "same": "product"}
        viewed a product and did not add that product within 10 minutes
    {"event": "add_to_cart", "then_no": ["add_to_cart", "remove_from_cart", "begin_checkout"], "within": "30m"}
        the cart idle for 30 minutes (each add starts the wait again)
    {"event": "search", "then_no": ["select_item", "view_item"], "within": "5m", "where": {"term": "mug"}}
        searched "mug" and clicked nothing
    An event trigger may say "show_for": "24h" (default), how long its action shows once it fired.

"Third visit this week" is a segment ({"event": "session_start", "within": "7d", "at_least": 3}),
which a rule names in its conditions.

Conditions (a tree, {} for everyone):

    {"all": [...]}, {"any": [...]}, {"not": {...}}
    {"segment": "cart-abandoners"}
    {"cart_value": {"at_least": 50, "below": 200}}        pounds, the cart's subtotal
    {"cart_has": {"product": 12}} or {"cart_has": {"category": 3}}
    {"device": "phone"}                                  desktop, phone or tablet
    {"hours": [18, 23]}                                   local time, from 18:00 up to 23:00
    {"dates": ["2026-12-01", "2026-12-24"]}               both days included
    {"in_stock": true}                                    the product the rule is about
    {"variant": {"experiment": "Rule on or off", "variant": "b"}}

Parse errors name the path of the wrong part ("conditions.all[1].hours") for the admin form.
"""

from dataclasses import dataclass
from datetime import date

from segments.conditions import ConditionError, event_name, keys_check, money_cents, window_minutes
from tracking.devices import DEVICES

PAGES = ("home", "category", "product", "cart", "search")
SUBJECTS = ("product", "category", "term")
# A subject's text (a search term) is kept in Redis keys and rows; longer is not a search.
MAX_TERM = 100
DEFAULT_SHOW_FOR = 24 * 60
MAX_DEPTH, MAX_NODES = 6, 48


# A trigger or condition that cannot be used, with where it is wrong: the segments' own error,
# since a rule's definitions share their parts (windows, event names, amounts).
DefinitionError = ConditionError


def _id(value, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise DefinitionError(path, f"{value!r} is not an id (a whole number above 0)")
    return value


def _term(value, path: str) -> str:
    if not isinstance(value, str) or not 0 < len(value.strip()) <= MAX_TERM:
        raise DefinitionError(path, f"a search term is a text of 1 to {MAX_TERM} characters")
    return value.strip().casefold()


@dataclass(frozen=True)
class PageTrigger:
    """Fires on a render of a page, optionally of one product, category or search term."""

    page: str
    product: int | None = None
    category: int | None = None
    term: str | None = None

    @property
    def subject(self) -> tuple[str, object] | None:
        for kind in SUBJECTS:
            if (value := getattr(self, kind)) is not None:
                return kind, value
        return None


@dataclass(frozen=True)
class AbsenceTrigger:
    """Fires when an event is not followed by any of the awaited ones within the window: a
    durable timer per (visitor, rule, subject), set by the first event, cancelled by an awaited
    one about the same subject."""

    event: str
    then_no: tuple[str, ...]
    window: int  # minutes
    same: str | None = None  # "product", "category" or "term": the subject both events share
    where: tuple[tuple[str, object], ...] = ()
    show_for: int = DEFAULT_SHOW_FOR  # minutes

    def matches(self, name: str, subject: dict) -> bool:
        return name == self.event and all(subject.get(key) == value for key, value in self.where)

    def subject_of(self, subject: dict) -> str:
        """What the timer is about: the shared subject's value, or "" when it is about the visitor."""
        if self.same is None:
            return ""
        value = subject.get(self.same)
        return "" if value is None else str(value)


Trigger = PageTrigger | AbsenceTrigger


def trigger_parse(raw, path: str = "trigger") -> Trigger:
    if not isinstance(raw, dict) or not raw:
        raise DefinitionError(path, 'a trigger is an object, e.g. {"page": "product"}')
    if "page" in raw:
        keys_check(raw, path, {"page", "product", "category", "term"})
        if raw["page"] not in PAGES:
            raise DefinitionError(f"{path}.page", f"{raw['page']!r} is no page; the pages are {', '.join(PAGES)}")
        subjects = [key for key in SUBJECTS if key in raw]
        if len(subjects) > 1:
            raise DefinitionError(f"{path}.{subjects[1]}", "a page trigger is about one product, category or term")
        wanted = {"product": "product", "category": "category", "term": "search"}
        if subjects and raw["page"] != wanted[subjects[0]]:
            raise DefinitionError(f"{path}.{subjects[0]}", f"a {subjects[0]} belongs on a {wanted[subjects[0]]} page")
        return PageTrigger(
            page=raw["page"],
            product=_id(raw["product"], f"{path}.product") if "product" in raw else None,
            category=_id(raw["category"], f"{path}.category") if "category" in raw else None,
            term=_term(raw["term"], f"{path}.term") if "term" in raw else None,
        )
    if "event" in raw:
        keys_check(raw, path, {"event", "then_no", "within", "same", "where", "show_for"})
        first = event_name(raw["event"], f"{path}.event")
        awaited = raw.get("then_no")
        if isinstance(awaited, str):
            awaited = [awaited]
        if not isinstance(awaited, list) or not awaited:
            raise DefinitionError(f"{path}.then_no", 'name the events that must not follow, e.g. ["add_to_cart"]')
        then_no = tuple(event_name(name, f"{path}.then_no[{i}]") for i, name in enumerate(awaited))
        if "within" not in raw:
            raise DefinitionError(f"{path}.within", "say how long to wait, e.g. 10m")
        same = raw.get("same")
        if same is not None and same not in SUBJECTS:
            raise DefinitionError(f"{path}.same", f"same is one of {', '.join(SUBJECTS)}")
        where = raw.get("where") or {}
        if not isinstance(where, dict):
            raise DefinitionError(f"{path}.where", 'where is an object such as {"product": 12}')
        keys_check(where, f"{path}.where", set(SUBJECTS))
        pairs = tuple(
            (key, _term(value, f"{path}.where.{key}") if key == "term" else _id(value, f"{path}.where.{key}"))
            for key, value in sorted(where.items())
        )
        return AbsenceTrigger(
            event=first,
            then_no=then_no,
            window=window_minutes(raw["within"], f"{path}.within"),
            same=same,
            where=pairs,
            show_for=window_minutes(raw["show_for"], f"{path}.show_for") if "show_for" in raw else DEFAULT_SHOW_FOR,
        )
    raise DefinitionError(path, 'a trigger starts with "page" (a page is shown) or "event" (an event and its absence)')


# Conditions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cond:
    """A condition node; holds() asks the render's facts (merchandising/engine.py)."""


@dataclass(frozen=True)
class AllOf(Cond):
    parts: tuple[Cond, ...]


@dataclass(frozen=True)
class AnyOf(Cond):
    parts: tuple[Cond, ...]


@dataclass(frozen=True)
class NotOf(Cond):
    part: Cond


@dataclass(frozen=True)
class InSegment(Cond):
    slug: str


@dataclass(frozen=True)
class CartValue(Cond):
    at_least: int | None = None  # cents
    below: int | None = None


@dataclass(frozen=True)
class CartHas(Cond):
    product: int | None = None
    category: int | None = None


@dataclass(frozen=True)
class Device(Cond):
    device: str


@dataclass(frozen=True)
class Hours(Cond):
    start: int
    end: int  # exclusive; below start for a window across midnight


@dataclass(frozen=True)
class Dates(Cond):
    first: date
    last: date


@dataclass(frozen=True)
class InStock(Cond):
    wanted: bool = True


@dataclass(frozen=True)
class Variant(Cond):
    experiment: str
    variant: str


def _slug(value, path: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 50:
        raise DefinitionError(path, "a segment is named by its slug, a text of 1 to 50 characters")
    return value


def _hour(value, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 24:
        raise DefinitionError(path, f"{value!r} is not an hour from 0 to 24")
    return value


def _day(value, path: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise DefinitionError(path, f"{value!r} is not a date written 2026-12-24") from None


def _cond(node, path: str, depth: int, seen: list[int]) -> Cond:
    seen[0] += 1
    if depth > MAX_DEPTH or seen[0] > MAX_NODES:
        raise DefinitionError(path, f"conditions may nest {MAX_DEPTH} deep and hold {MAX_NODES} parts at most")
    if not isinstance(node, dict) or len(node) != 1:
        raise DefinitionError(path, 'each condition is an object with one key, e.g. {"segment": "newsletter"}')
    ((kind, value),) = node.items()
    here = f"{path}.{kind}"
    if kind in ("all", "any"):
        if not isinstance(value, list) or not value:
            raise DefinitionError(here, f"{kind} takes a list of conditions")
        parts = tuple(_cond(part, f"{here}[{i}]", depth + 1, seen) for i, part in enumerate(value))
        return AllOf(parts) if kind == "all" else AnyOf(parts)
    if kind == "not":
        return NotOf(_cond(value, here, depth + 1, seen))
    if kind == "segment":
        return InSegment(_slug(value, here))
    if kind == "cart_value":
        if not isinstance(value, dict) or not value:
            raise DefinitionError(here, 'cart_value takes bounds, e.g. {"at_least": 50}')
        keys_check(value, here, {"at_least", "below"})
        bounds = CartValue(
            at_least=money_cents(value.get("at_least"), f"{here}.at_least"),
            below=money_cents(value.get("below"), f"{here}.below"),
        )
        if bounds.at_least is not None and bounds.below is not None and bounds.below <= bounds.at_least:
            raise DefinitionError(f"{here}.below", "below must be more than at_least")
        return bounds
    if kind == "cart_has":
        if not isinstance(value, dict) or len(value) != 1:
            raise DefinitionError(here, 'cart_has names one product or category, e.g. {"product": 12}')
        keys_check(value, here, {"product", "category"})
        ((what, pk),) = value.items()
        return CartHas(**{what: _id(pk, f"{here}.{what}")})
    if kind == "device":
        if value not in DEVICES:
            raise DefinitionError(here, f"the devices are {', '.join(DEVICES)}")
        return Device(value)
    if kind == "hours":
        if not isinstance(value, list) or len(value) != 2:
            raise DefinitionError(here, "hours are [from, to], e.g. [18, 23]")
        start, end = _hour(value[0], f"{here}[0]"), _hour(value[1], f"{here}[1]")
        if start == end:
            raise DefinitionError(here, "from and to are the same hour: the window would be empty")
        return Hours(start % 24, end % 24 if end != 24 else 24)
    if kind == "dates":
        if not isinstance(value, list) or len(value) != 2:
            raise DefinitionError(here, 'dates are [first, last], e.g. ["2026-12-01", "2026-12-24"]')
        first, last = _day(value[0], f"{here}[0]"), _day(value[1], f"{here}[1]")
        if last < first:
            raise DefinitionError(f"{here}[1]", "the last day is before the first")
        return Dates(first, last)
    if kind == "in_stock":
        if not isinstance(value, bool):
            raise DefinitionError(here, "in_stock is true or false")
        return InStock(value)
    if kind == "variant":
        if not isinstance(value, dict):
            raise DefinitionError(here, 'variant is {"experiment": its name, "variant": its key}')
        keys_check(value, here, {"experiment", "variant"})
        if not all(isinstance(value.get(key), str) and value[key] for key in ("experiment", "variant")):
            raise DefinitionError(here, "name both the experiment and the variant")
        return Variant(value["experiment"], value["variant"])
    known = "all, any, not, segment, cart_value, cart_has, device, hours, dates, in_stock, variant"
    raise DefinitionError(here, f"no such condition; the conditions are {known}")


def conditions_parse(raw, path: str = "conditions") -> Cond | None:
    """None for {} (everyone)."""
    if raw in (None, {}):
        return None
    return _cond(raw, path, 0, [0])


def segments_named(node: Cond | None) -> set[str]:
    """The segment slugs a condition tree reads, so a save can check that each exists."""
    if node is None:
        return set()
    if isinstance(node, AllOf | AnyOf):
        return set().union(*(segments_named(part) for part in node.parts))
    if isinstance(node, NotOf):
        return segments_named(node.part)
    return {node.slug} if isinstance(node, InSegment) else set()
