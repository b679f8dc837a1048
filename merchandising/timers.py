"""Absence timers: "viewed P and no add_to_cart of P within 10 minutes", one durable timer per (owner, rule, subject).

The first event sets the timer (if none is pending for that subject: a second view does not
push the moment back), an awaited event about the same subject before the due time cancels it,
and an event that is both (an add_to_cart for "cart idle 30 minutes") cancels and sets again.
Timers sit in Redis twice: in one sorted set by due time, which a worker fires from every few
seconds, and in the owner's hash, which every page reads in its one round trip, so a timer
whose moment has come shows on the next render even while no worker runs. A firing is a row
with a unique key (rule, owner, subject, due time): two workers, or one restarted part-way, fire
a timer once; only the one that inserted the row pushes it to the visitor's open pages.
"""

import json
import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from shop.keyspace import RedisBatch, merch_fired_key, merch_owner_timers_key, merch_timers_key, redis_client
from tracking.hooks import StoredBatch, TrackedEvent
from tracking.owners import owner_key
from tracking.selectors import events_between

from .definitions import AbsenceTrigger, DefinitionError, trigger_parse
from .models import Rule, RuleFiring

logger = logging.getLogger(__name__)

# How long a process trusts its copy of the event rules: an edit reaches the ingest within this.
RULES_TTL_SECONDS = 2.0
# Timers per firing round: 5,000 kept one round under a second with 100,000 pending (bench/).
FIRE_LIMIT = 5000
INSERT_CHUNK = 500
# How far past a rule's window a rebuild looks back: timers that fell due but were not fired
# yet (no worker for a while); those already fired are recorded, and not fired again.
REBUILD_MARGIN = timedelta(minutes=15)
DAY_MS = 86_400_000


@dataclass(frozen=True)
class TimerRule:
    id: int
    trigger: AbsenceTrigger


_cache: dict[str, tuple[float, tuple[TimerRule, ...]]] = {}


def timer_rules() -> tuple[TimerRule, ...]:
    """The active rules with an event trigger, held per process for RULES_TTL_SECONDS."""
    held = _cache.get("rules")
    if held is not None and time.monotonic() - held[0] < RULES_TTL_SECONDS:
        return held[1]
    now = timezone.now()
    found = []
    for rule_id, raw in Rule.objects.filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=now), is_active=True, trigger__has_key="event"
    ).values_list("id", "trigger"):
        try:
            trigger = trigger_parse(raw)
        except DefinitionError:
            continue  # the admin refuses it; an old row that no longer parses is inert
        found.append(TimerRule(id=rule_id, trigger=trigger))
    rules = tuple(found)
    _cache["rules"] = (time.monotonic(), rules)
    return rules


def timer_rules_forget() -> None:
    _cache.clear()


def member(owner: str, rule_id: int, subject: str) -> str:
    return f"{owner}|{rule_id}|{subject}"


def timer_value(due_ms: int, visitor_id) -> str:
    """An owner's timer as its hash holds it: the due time first (the Lua script reads it), then the visitor."""
    return f"{due_ms}:{visitor_id}"


def timer_due(raw: bytes | str) -> int:
    text = raw.decode() if isinstance(raw, bytes) else raw
    return int(text.partition(":")[0])


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def event_subject(event: TrackedEvent) -> dict:
    term = event.properties.get("search_term")
    return {
        "product": event.product_id,
        "category": event.category_id,
        "term": term.strip().casefold() if isinstance(term, str) and term.strip() else None,
    }


def timers_ingest(*, batch: StoredBatch, redis: RedisBatch, rules: Sequence[TimerRule]) -> None:
    """Queue the timers this batch sets and cancels on the ingest's round trip."""
    owner = owner_key(user_id=batch.user_id, visitor_id=batch.visitor_id)
    owner_timers = merch_owner_timers_key(owner)
    longest = 0
    for event in sorted(batch.events, key=lambda e: e.occurred_at):
        subject, at = event_subject(event), _ms(event.occurred_at)
        for rule in rules:
            trigger = rule.trigger
            about = trigger.subject_of(subject)
            if event.name in trigger.then_no:
                key = f"{rule.id}|{about}"
                redis.script(
                    "merch_timer_drop", keys=[merch_timers_key()], args=[member(owner, rule.id, about), at, ""]
                )
                redis.script("merch_timer_drop", keys=[owner_timers], args=[key, at, ""])
            if not trigger.matches(event.name, subject) or (trigger.same and not about):
                continue
            due = at + trigger.window * 60_000
            redis.pipe.zadd(merch_timers_key(), {member(owner, rule.id, about): due}, nx=True)
            redis.pipe.hsetnx(owner_timers, f"{rule.id}|{about}", timer_value(due, batch.visitor_id))
            longest = max(longest, trigger.window + trigger.show_for)
    if longest:
        # A pending timer outlives its window and its showing by a day, then goes with the owner's hash.
        redis.pipe.pexpire(owner_timers, longest * 60_000 + DAY_MS)


@dataclass(frozen=True)
class Walked:
    """One owner's events walked by an absence trigger: the timers that fell due, and those still pending."""

    due: list[tuple[datetime, str, TrackedEvent]]  # due time, subject, the event that set it
    pending: dict[str, tuple[datetime, TrackedEvent]]


def absence_walk(trigger: AbsenceTrigger, events: Sequence[TrackedEvent], *, until: datetime) -> Walked:
    """The live path's semantics over an owner's recorded events in time order (a timer set by
    the first event, cancelled by an awaited one before it was due, due at its time), for the
    dry run and the rebuild."""
    pending: dict[str, tuple[datetime, TrackedEvent]] = {}
    due: list[tuple[datetime, str, TrackedEvent]] = []

    def close(moment: datetime) -> None:
        for subject, (when, event) in sorted(pending.items(), key=lambda item: item[1][0]):
            if when <= moment:
                due.append((when, subject, event))
                del pending[subject]

    for event in events:
        close(event.occurred_at)
        subject = event_subject(event)
        about = trigger.subject_of(subject)
        if event.name in trigger.then_no and about in pending and event.occurred_at < pending[about][0]:
            del pending[about]
        if trigger.matches(event.name, subject) and not (trigger.same and not about):
            pending.setdefault(about, (event.occurred_at + timedelta(minutes=trigger.window), event))
    close(until)
    return Walked(due=due, pending=pending)


def timers_rebuild(*, now: datetime | None = None) -> int:
    """Set again, from the record, the timers Redis lost (a flush, a failover): each event rule's
    window is walked back from now; timers already due are left to the next firing round, which
    records each once. Returns how many pending timers were set (those still there stay)."""
    now = now or timezone.now()
    restored = 0
    for rule in timer_rules():
        trigger = rule.trigger
        names = {trigger.event, *trigger.then_no}
        start = now - timedelta(minutes=trigger.window) - REBUILD_MARGIN
        for owner, events in owners_events(events_between(start=start, end=now, names=names, chunk=5000)):
            walked = absence_walk(trigger, events, until=now)
            batch = RedisBatch()
            for subject, (when, event) in list(walked.pending.items()) + [(s, (w, e)) for w, s, e in walked.due]:
                due_ms = _ms(when)
                batch.pipe.zadd(merch_timers_key(), {member(owner, rule.id, subject): due_ms}, nx=True)
                batch.pipe.hsetnx(
                    merch_owner_timers_key(owner), f"{rule.id}|{subject}", timer_value(due_ms, event.visitor_id)
                )
                restored += 1
            batch.execute()
    return restored


def owners_events(chunks) -> Iterator[tuple[str, list[TrackedEvent]]]:
    """Group chunks of events in owner order (tracking.selectors) into one list per owner."""
    current, events = None, []
    for chunk in chunks:
        for event in chunk:
            owner = owner_key(user_id=event.user_id, visitor_id=event.visitor_id)
            if owner != current and events:
                yield current, events
                events = []
            current = owner
            events.append(event)
    if events:
        yield current, events


class TimerHook:
    """Merchandising's absence timers as a tracking hook."""

    def batch_stored(self, batch: StoredBatch, *, redis: RedisBatch) -> None:
        if not batch.events:
            return
        rules = timer_rules()
        if rules:
            timers_ingest(batch=batch, redis=redis, rules=rules)


@dataclass
class FireResult:
    fired: int = 0
    already: int = 0  # fired before (another worker, or a round cut short): not pushed again
    dropped: int = 0  # the rule is gone or switched off
    lateness_ms: list[int] = field(default_factory=list)


def _insert(rows: list[tuple[int, str, str, datetime, datetime]]) -> set[tuple[int, str, str]]:
    """Insert firings, skipping those already recorded; returns the ones this call inserted."""
    table = RuleFiring._meta.db_table
    inserted: set[tuple[int, str, str]] = set()
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(rows), INSERT_CHUNK):
            chunk = rows[start : start + INSERT_CHUNK]
            values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} (rule_id, owner, subject, due_at, fired_at) VALUES {values} "  # noqa: S608
                "ON CONFLICT (rule_id, owner, subject, due_at) DO NOTHING RETURNING rule_id, owner, subject",
                [value for row in chunk for value in row],
            )
            inserted.update((int(rule), owner, subject) for rule, owner, subject in cursor.fetchall())
    return inserted


def _on_fire_hooks():
    return [import_string(path) for path in settings.MERCHANDISING_FIRED_HOOKS]


def timers_fire(*, limit: int = FIRE_LIMIT, now: datetime | None = None) -> FireResult:
    """Fire every timer whose due time has come: record it once, show it, push it to open pages."""
    now = now or timezone.now()
    now_ms = _ms(now)
    client = redis_client()
    due = client.zrangebyscore(merch_timers_key(), "-inf", now_ms, start=0, num=limit, withscores=True)
    result = FireResult()
    if not due:
        return result
    parsed = []
    for raw, score in due:
        owner, rule_id, subject = raw.decode().rsplit("|", 2)
        parsed.append((owner, int(rule_id), subject, int(score)))
    pipe = client.pipeline(transaction=False)
    for owner, rule_id, subject, _ in parsed:
        pipe.hget(merch_owner_timers_key(owner), f"{rule_id}|{subject}")
    visitors = [raw.decode().partition(":")[2] if raw else "" for raw in pipe.execute()]
    rules = {rule.id: rule for rule in timer_rules()}
    rows = [
        (rule_id, owner, subject, datetime.fromtimestamp(due_ms / 1000, UTC), now)
        for owner, rule_id, subject, due_ms in parsed
    ]
    try:
        inserted = _insert([row for row in rows if row[0] in rules])
    except IntegrityError:
        # A rule deleted since this process read the rules: read them again, and its timers drop.
        timer_rules_forget()
        rules = {rule.id: rule for rule in timer_rules()}
        inserted = _insert([row for row in rows if row[0] in rules])
    batch = RedisBatch(client)
    pushes = []
    for (owner, rule_id, subject, due_ms), visitor in zip(parsed, visitors, strict=True):
        batch.script("merch_timer_drop", keys=[merch_timers_key()], args=[member(owner, rule_id, subject), 0, due_ms])
        batch.script("merch_timer_drop", keys=[merch_owner_timers_key(owner)], args=[f"{rule_id}|{subject}", 0, due_ms])
        rule = rules.get(rule_id)
        if rule is None:
            result.dropped += 1
            continue
        until = due_ms + rule.trigger.show_for * 60_000
        # Written for every due timer, inserted or not: a round cut short before this is made good.
        batch.pipe.hset(merch_fired_key(owner), str(rule_id), json.dumps({"subject": subject, "until": until}))
        batch.pipe.pexpire(merch_fired_key(owner), rule.trigger.show_for * 60_000 + DAY_MS)
        if (rule_id, owner, subject) in inserted:
            result.fired += 1
            result.lateness_ms.append(now_ms - due_ms)
            if visitor:
                pushes.append((uuid.UUID(visitor), rule_id, subject))
        else:
            result.already += 1
    batch.execute()
    if pushes:
        for hook in _on_fire_hooks():
            try:
                hook(fired=pushes)
            except Exception:
                # Recorded and shown on the next render: a push is a courtesy, not the record.
                logger.exception("rule fired hook %s failed", hook)
    return result
