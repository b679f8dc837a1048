"""A rule replayed over recorded traffic: "would have fired for N visitors (M sessions) yesterday", with a sample.

The replay walks the record owner by owner in time order, with the same trigger semantics as
the live path (a timer set by the first event, cancelled by an awaited one before it was due,
fired at its due time), and the conditions the record can answer at each moment: segment
membership (kept with its times), device, hour and date. What the record does not keep (the
cart's value and contents then, stock then, an experiment's variant) is assumed to hold, and
the result says which it assumed. Caps and exclusive groups are left out: it counts whom the
rule would have reached, not what would have shown.
"""

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from segments.models import Membership
from tracking.hooks import TrackedEvent
from tracking.selectors import events_between

from .definitions import (
    AbsenceTrigger,
    AllOf,
    AnyOf,
    CartHas,
    CartValue,
    Cond,
    InStock,
    NotOf,
    PageTrigger,
    Variant,
    conditions_parse,
    segments_named,
    trigger_parse,
)
from .engine import Facts, explain
from .models import Rule
from .timers import absence_walk, event_subject, owners_events

CHUNK = 5000
# A page trigger is met by the event its page records.
PAGE_EVENTS = {
    "product": "view_item",
    "search": "search",
    "category": "view_item_list",
    "home": "page_view",
    "cart": "view_cart",
}
ASSUMED = {
    CartValue: "the cart's value",
    CartHas: "the cart's contents",
    InStock: "stock",
    Variant: "experiment variants",
}


@dataclass
class DryRun:
    visitors: int = 0
    sessions: int = 0
    firings: int = 0
    events: int = 0
    seconds: float = 0.0
    sample: list[tuple[str, datetime, str]] = field(default_factory=list)  # owner, when, subject
    assumed: list[str] = field(default_factory=list)


def _assume(node: Cond | None, assumed: set[str]) -> Cond | None:
    """The tree with what the record cannot answer replaced by "holds" (an empty all)."""
    if node is None:
        return None
    for kind, what in ASSUMED.items():
        if isinstance(node, kind):
            assumed.add(what)
            return AllOf(())
    if isinstance(node, AllOf):
        return AllOf(tuple(_assume(part, assumed) for part in node.parts))
    if isinstance(node, AnyOf):
        return AnyOf(tuple(_assume(part, assumed) for part in node.parts))
    if isinstance(node, NotOf):
        return NotOf(_assume(node.part, assumed))
    return node


def _memberships(
    slugs: set[str], start: datetime, end: datetime
) -> dict[str, list[tuple[str, datetime, datetime | None]]]:
    found: dict[str, list] = defaultdict(list)
    if not slugs:
        return found
    rows = Membership.objects.filter(segment__slug__in=slugs, entered_at__lt=end).exclude(exited_at__lt=start)
    for owner, slug, entered, exited in rows.values_list("owner", "segment__slug", "entered_at", "exited_at"):
        found[owner].append((slug, entered, exited))
    return found


def _page_match(trigger: PageTrigger) -> Callable[[TrackedEvent], bool]:
    name = PAGE_EVENTS[trigger.page]

    def matches(event: TrackedEvent) -> bool:
        if event.name != name:
            return False
        if trigger.page == "home" or trigger.page == "cart":
            return name == "view_cart" or event.properties.get("page_type") == trigger.page
        subject = event_subject(event)
        kind_value = trigger.subject
        return kind_value is None or subject.get(kind_value[0]) == kind_value[1]

    return matches


def rule_dry_run(*, rule: Rule, start: datetime, end: datetime, sample: int = 10) -> DryRun:
    began = time.monotonic()
    trigger = trigger_parse(rule.trigger)
    result = DryRun()
    assumed: set[str] = set()
    conditions = _assume(conditions_parse(rule.conditions), assumed)
    result.assumed = sorted(assumed)
    members = _memberships(segments_named(conditions), start, end)
    if isinstance(trigger, AbsenceTrigger):
        names = {trigger.event, *trigger.then_no}
    else:
        names = {PAGE_EVENTS[trigger.page]}
        page_match = _page_match(trigger)
    owners, sessions = set(), set()

    def fire(owner: str, at: datetime, subject: str, event: TrackedEvent) -> None:
        if (rule.starts_at and at < rule.starts_at) or (rule.ends_at and at >= rule.ends_at):
            return
        if conditions is not None:
            segments = frozenset(
                slug
                for slug, entered, exited in members.get(owner, ())
                if entered <= at and (exited is None or at < exited)
            )
            facts = Facts(page="replay", segments=segments, device=event.properties.get("device") or "desktop", now=at)
            if not explain(conditions, facts, None)[0]:
                return
        result.firings += 1
        if owner not in owners and len(result.sample) < sample:
            result.sample.append((owner, at, subject))
        owners.add(owner)
        sessions.add(event.session_id or owner)

    for owner, events in owners_events(events_between(start=start, end=end, names=names, chunk=CHUNK)):
        result.events += len(events)
        if isinstance(trigger, AbsenceTrigger):
            for due, subject, event in absence_walk(trigger, events, until=end).due:
                fire(owner, due, subject, event)
        else:
            for event in events:
                if page_match(event):
                    fire(owner, event.occurred_at, "", event)
    result.visitors, result.sessions = len(owners), len(sessions)
    result.seconds = time.monotonic() - began
    return result
