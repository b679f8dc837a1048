"""Which rules fire on a render, and why the others do not: deterministic, from the published rules.

The published rules (merchandising/publish.py) are parsed once per process per publication into
an index by trigger and subject, so a render looks at the rules that can apply to its page and
its product, category or search term, and at the event rules whose timer fired for this owner:
a few, however many rules exist. Resolution, in order of (priority high to low, id):
schedule, conditions, the per-day cap, the exclusive group; a content slot shows the first
block placed in it.
"""

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from django.conf import settings

from .definitions import (
    AbsenceTrigger,
    AllOf,
    AnyOf,
    CartHas,
    CartValue,
    Cond,
    Dates,
    Device,
    Hours,
    InSegment,
    InStock,
    NotOf,
    PageTrigger,
    Variant,
    conditions_parse,
    trigger_parse,
)

SITE_SLOT = "site_banner"


@dataclass(frozen=True)
class Action:
    kind: str
    content_slot: str = ""
    slot: str = ""
    position: int | None = None
    products: tuple[int, ...] = ()
    category: int | None = None
    subject_product: bool = False
    block: "BlockView | None" = None  # parsed once, when the publication is
    offer: dict | None = None  # {"id", "text", "code", "automatic"}


@dataclass(frozen=True)
class RuleView:
    """A rule as a render reads it."""

    id: int
    name: str
    priority: int
    group: str
    cap: int | None
    starts: float | None  # epoch seconds
    ends: float | None
    trigger: PageTrigger | AbsenceTrigger
    conditions: Cond | None
    actions: tuple[Action, ...]

    @property
    def order(self) -> tuple[int, int]:
        return (-self.priority, self.id)


@dataclass(frozen=True)
class BlockView:
    id: int
    name: str
    slot: str
    kind: str
    headline: str
    body: str
    link_url: str
    link_text: str
    products: tuple[int, ...]
    segments: frozenset[str]
    excluded: frozenset[str]
    only_by_rule: bool
    priority: int
    starts: float | None
    ends: float | None

    @classmethod
    def from_json(cls, raw: dict) -> "BlockView":
        """A block as services.publication_build publishes it: its fields by name."""
        return cls(
            **{
                **raw,
                "products": tuple(raw["products"]),
                "segments": frozenset(raw["segments"]),
                "excluded": frozenset(raw["excluded"]),
            }
        )


def _live(starts: float | None, ends: float | None, now: float) -> str | None:
    """Why something scheduled is not on now, or None when it is."""
    if starts is not None and now < starts:
        return "not started yet"
    if ends is not None and now >= ends:
        return "ended"
    return None


@dataclass
class Index:
    """The published rules and blocks, by what a render looks them up with."""

    page_rules: dict[tuple[str, str | None, object], list[RuleView]]
    event_rules: dict[int, RuleView]
    blocks: dict[str, list[BlockView]]
    errors: dict[str, str] = field(default_factory=dict)

    def for_page(self, page: str, subjects: dict[str, object]) -> list[RuleView]:
        found = list(self.page_rules.get((page, None, None), ()))
        for kind, value in subjects.items():
            if value is not None:
                found += self.page_rules.get((page, kind, value), ())
        return found


def index_build(raw: bytes | str) -> Index:
    """Parse a publication; a rule whose stored trigger no longer parses is left out and named."""
    data = json.loads(raw)
    page_rules: dict = defaultdict(list)
    event_rules: dict[int, RuleView] = {}
    errors: dict[str, str] = {}
    for item in data["rules"]:
        try:
            trigger = trigger_parse(item["trigger"])
            conditions = conditions_parse(item["conditions"])
        except ValueError as error:
            errors[item["name"]] = str(error)
            continue
        rule = RuleView(
            id=item["id"],
            name=item["name"],
            priority=item["priority"],
            group=item["group"],
            cap=item["cap"],
            starts=item["starts"],
            ends=item["ends"],
            trigger=trigger,
            conditions=conditions,
            actions=tuple(
                Action(**{**action, "block": BlockView.from_json(action["block"]) if action["block"] else None})
                for action in item["actions"]
            ),
        )
        if isinstance(trigger, PageTrigger):
            kind, value = trigger.subject or (None, None)
            page_rules[(trigger.page, kind, value)].append(rule)
        else:
            event_rules[rule.id] = rule
    blocks: dict[str, list[BlockView]] = defaultdict(list)
    for item in data["blocks"]:
        block = BlockView.from_json(item)
        blocks[block.slot].append(block)
    for listed in blocks.values():
        listed.sort(key=lambda b: (-b.priority, b.id))
    return Index(page_rules=dict(page_rules), event_rules=event_rules, blocks=dict(blocks), errors=errors)


_held: list[tuple[bytes, Index]] = []


def index_of(raw: bytes) -> Index:
    """The index of a publication, parsed once per process (compared whole: a few kB)."""
    if _held and _held[0][0] == raw:
        return _held[0][1]
    index = index_build(raw)
    _held[:] = [(raw, index)]
    return index


@dataclass
class Facts:
    """What conditions ask of a render. The costly ones (cart value, stock, experiment
    variants) are functions, asked only when a rule that needs them is reached."""

    page: str
    product: int | None = None
    category: int | None = None
    term: str | None = None
    segments: frozenset[str] = frozenset()
    cart: dict[int, int] = field(default_factory=dict)
    device: str = "desktop"
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    fired: dict[int, str] = field(default_factory=dict)  # event rule id -> the subject its timer fired for
    shown_today: dict[int, int] = field(default_factory=dict)
    cart_value_of: Callable[[dict[int, int]], int] = lambda cart: 0  # cents
    cart_categories_of: Callable[[dict[int, int]], set[int]] = lambda cart: set()
    in_stock_of: Callable[[int], bool] = lambda product: True
    variants_of: Callable[[], dict[str, str]] = dict  # experiment name -> variant key

    @cached_property
    def cart_value(self) -> int:
        return self.cart_value_of(self.cart)

    @cached_property
    def cart_categories(self) -> set[int]:
        return self.cart_categories_of(self.cart)

    @cached_property
    def variants(self) -> dict[str, str]:
        return self.variants_of()

    @cached_property
    def local(self) -> datetime:
        return self.now.astimezone(ZoneInfo(settings.TIME_ZONE))


def explain(node: Cond, facts: Facts, subject_product: int | None) -> tuple[bool, str]:
    """Whether a condition holds, and in words why (the first part that decided it)."""
    if isinstance(node, AllOf):
        for part in node.parts:
            held, why = explain(part, facts, subject_product)
            if not held:
                return False, why
        return True, "all conditions hold"
    if isinstance(node, AnyOf):
        reasons = []
        for part in node.parts:
            held, why = explain(part, facts, subject_product)
            if held:
                return True, why
            reasons.append(why)
        return False, "none of: " + "; ".join(reasons)
    if isinstance(node, NotOf):
        held, why = explain(node.part, facts, subject_product)
        return (not held), (f"not ({why})")
    if isinstance(node, InSegment):
        inside = node.slug in facts.segments
        return inside, f"{'in' if inside else 'not in'} segment {node.slug}"
    if isinstance(node, CartValue):
        value = facts.cart_value
        held = (node.at_least is None or value >= node.at_least) and (node.below is None or value < node.below)
        return held, f"cart value £{value / 100:.2f}"
    if isinstance(node, CartHas):
        if node.product is not None:
            held = node.product in facts.cart
            return held, f"product {node.product} {'in' if held else 'not in'} the cart"
        held = node.category in facts.cart_categories
        return held, f"category {node.category} {'in' if held else 'not in'} the cart"
    if isinstance(node, Device):
        return facts.device == node.device, f"device {facts.device}"
    if isinstance(node, Hours):
        hour = facts.local.hour
        inside = node.start <= hour < node.end if node.start < node.end else hour >= node.start or hour < node.end
        return inside, f"local hour {hour}"
    if isinstance(node, Dates):
        today: date = facts.local.date()
        return node.first <= today <= node.last, f"today is {today.isoformat()}"
    if isinstance(node, InStock):
        product = subject_product if subject_product is not None else facts.product
        if product is None:
            return False, "no product to check stock of"
        in_stock = facts.in_stock_of(product)
        return in_stock == node.wanted, f"product {product} {'in stock' if in_stock else 'out of stock'}"
    if isinstance(node, Variant):
        got = facts.variants.get(node.experiment)
        return got == node.variant, f"experiment “{node.experiment}”: {got or 'not in it'}"
    raise TypeError(f"unknown condition {node!r}")


@dataclass(frozen=True)
class Verdict:
    rule: RuleView | None
    name: str
    fired: bool
    reason: str
    subject: str = ""


@dataclass(frozen=True)
class Placement:
    """What one content slot shows: a block, an offer, or both, and who placed it."""

    slot: str
    rule_id: int | None
    block: BlockView | None = None
    offer: dict | None = None
    subject_product: int | None = None


@dataclass
class Decision:
    placements: dict[str, Placement]
    effects: list[tuple[RuleView, Action, str]]  # product actions for recommendation slots
    trace: list[Verdict]

    @property
    def fired(self) -> list[Verdict]:
        return [verdict for verdict in self.trace if verdict.fired and verdict.rule is not None]


def _subject_int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def decide(index: Index, facts: Facts, *, content_slots: Iterable[str]) -> Decision:
    now = facts.now.timestamp()
    candidates: list[tuple[RuleView, str]] = [
        (rule, "")
        for rule in index.for_page(
            facts.page, {"product": facts.product, "category": facts.category, "term": facts.term}
        )
    ]
    for rule_id, subject in facts.fired.items():
        if (rule := index.event_rules.get(rule_id)) is not None:
            candidates.append((rule, subject))
    candidates.sort(key=lambda item: item[0].order)
    slots = set(content_slots)
    placements: dict[str, Placement] = {}
    effects: list[tuple[RuleView, Action, str]] = []
    trace: list[Verdict] = []
    groups: dict[str, str] = {}
    for rule, subject in candidates:
        subject_product = _subject_int(subject) if subject else None
        reason = _live(rule.starts, rule.ends, now)
        if reason is None and rule.conditions is not None:
            held, why = explain(rule.conditions, facts, subject_product)
            reason = None if held else why
        if reason is None and rule.cap is not None and facts.shown_today.get(rule.id, 0) >= rule.cap:
            reason = f"shown {rule.cap} of {rule.cap} times today"
        if reason is None and rule.group and rule.group in groups:
            reason = f"group {rule.group}: “{groups[rule.group]}” fired first"
        if reason is not None:
            trace.append(Verdict(rule=rule, name=rule.name, fired=False, reason=reason, subject=subject))
            continue
        if rule.group:
            groups[rule.group] = rule.name
        placed = []
        for action in rule.actions:
            if action.kind in ("block", "offer"):
                slot = action.block.slot if action.kind == "block" else (action.content_slot or SITE_SLOT)
                if slot in slots and slot not in placements:
                    placements[slot] = Placement(
                        slot=slot,
                        rule_id=rule.id,
                        block=action.block,
                        offer=action.offer,
                        subject_product=subject_product,
                    )
                    placed.append(slot)
            else:
                effects.append((rule, action, subject))
        why = "fired" + (f" for {subject}" if subject else "") + (f", shows in {', '.join(placed)}" if placed else "")
        trace.append(Verdict(rule=rule, name=rule.name, fired=True, reason=why, subject=subject))
    for slot in sorted(slots - placements.keys()):
        for block in index.blocks.get(slot, ()):
            if block.only_by_rule:
                continue
            reason = _live(block.starts, block.ends, now)
            if reason is None and block.segments and not block.segments & facts.segments:
                reason = "visitor in none of its segments"
            if reason is None and block.excluded & facts.segments:
                reason = "visitor in an excluded segment"
            if reason is None:
                placements[slot] = Placement(slot=slot, rule_id=None, block=block)
                trace.append(Verdict(rule=None, name=f"block “{block.name}”", fired=True, reason=f"shows in {slot}"))
                break
            trace.append(Verdict(rule=None, name=f"block “{block.name}”", fired=False, reason=reason))
    return Decision(placements=placements, effects=effects, trace=trace)
