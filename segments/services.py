"""Keeping memberships true: the live driver (ingest hook, due-times) and the backfill over the record.

Postgres is the record of entries and exits; Redis holds the counters and the sets a page reads.
A live batch's transitions go into the journal (segments/record.py) in the pipeline that then
publishes them, and reach Postgres when it is drained: a process dying after that pipeline has
left them in the journal, never lost; one dying before it has published and journaled nothing,
and the counters already hold the event, so the next evaluation (a batch, a due-time, the sweep)
finds the transitions again. The other drivers write to Postgres first (after the journal, and
idempotently: one open Membership per segment and owner), then publish to Redis.
"""

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import NamedTuple

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone
from redis.exceptions import RedisError

from shop.keyspace import (
    RedisBatch,
    owner_segments_key,
    redis_client,
    segment_counts_key,
    segment_due_key,
    segment_handover_key,
    segment_journal_key,
    segment_journal_lock_key,
    segment_members_key,
    segment_meta_key,
)
from tracking.hooks import TrackedEvent
from tracking.models import Event
from tracking.owners import Owner, owner_key_expression
from tracking.registry import Source

from .conditions import MAX_WINDOW, ConditionError, Counter, Definition, Tenure, definition_parse, nodes_walk
from .evaluator import (
    MINUTE_MS,
    Clocks,
    Facts,
    Judge,
    clocks_of,
    epoch_ms,
    increments,
    judges_compile,
    next_change_ms,
    sessions_alive,
    stale_fields,
)
from .models import Membership, Segment
from .record import journal_drain, journal_due, lines_of, memberships_write, record_with, rows_of

logger = logging.getLogger(__name__)

# Counters outlive their longest window by a day so a due-time never reads a vanished hash.
COUNTS_TTL = int((MAX_WINDOW + timedelta(days=1)).total_seconds())
# How long a process trusts its copy of the definitions: an edit reaches the live path within this.
DEFINITIONS_TTL_SECONDS = 2.0
# Verdicts a process keeps per catalogue (a few KB each); past this the memo starts over.
VERDICTS_HELD = 2048
# Owners per pipeline in the due firing and the backfill's writes: 500 kept a round trip under 5 ms.
OWNERS_PER_ROUND_TRIP = 500
# How long a backfill's handover stays open, and how long its marks of counted events last: a live
# batch's hook runs milliseconds after its commit, so ten minutes covers any stalled process.
HANDOVER_SECONDS = 600
# Events per database fetch in the backfill.
BACKFILL_CHUNK = 5000


@dataclass(frozen=True)
class Catalogue:
    """The segments as the evaluator needs them, loaded once and shared by the drivers."""

    definitions: dict[str, Definition]  # every valid segment, for references
    active: dict[str, int]  # slug -> id of the segments kept live
    errors: dict[str, str] = field(default_factory=dict)  # slug -> why its definition does not parse

    @cached_property
    def counters(self) -> frozenset[Counter]:
        return frozenset(counter for slug in self._used() for counter in self.definitions[slug].counters)

    def _used(self) -> set[str]:
        used, todo = set(), [slug for slug in self.active if slug in self.definitions]
        while todo:
            slug = todo.pop()
            if slug in used or slug not in self.definitions:
                continue
            used.add(slug)
            todo.extend(self.definitions[slug].references)
        return used

    @cached_property
    def by_event(self) -> dict[str, tuple[Counter, ...]]:
        grouped: dict[str, list[Counter]] = defaultdict(list)
        for counter in self.counters:
            grouped[counter.event].append(counter)
        return {name: tuple(counters) for name, counters in grouped.items()}

    @cached_property
    def where_keys(self) -> dict[str, tuple[str, ...]]:
        """Per event name, what its counters' filters read of an event."""
        return {
            name: tuple(sorted({key for counter in counters for key, _ in counter.where}))
            for name, counters in self.by_event.items()
        }

    @cached_property
    def specs(self) -> str:
        """The counters as shop/lua/segment_count.lua reads them: 'id scope horizon' each, as one
        argument (a list of them was the most of what each call sent)."""
        return " ".join(
            f"{counter.id} {counter.scope} {self.horizons.get(counter.id, 0)}"
            for counter in sorted(self.counters, key=lambda counter: counter.id)
        )

    @cached_property
    def judges(self) -> dict[str, Judge]:
        return judges_compile(self.definitions)

    @cached_property
    def verdicts(self) -> dict[tuple, "Held"]:
        """Verdicts by what they were judged on, with time made relative to the minute
        (_verdict_key): first visits from the same kind of page are alike, and so are the second
        batches of visitors who came back after as long; most of a shop's batches are such."""
        return {}

    def fresh_checks(self, counted: frozenset[str]) -> "Checks":
        """The segments a first batch adding to these counters is judged on (_segments_touched),
        one object per set of counters, so that the verdicts memoised with it share it."""
        held = self._fresh_checks.get(counted)
        if held is None:
            readers = self.readers
            touched = set(readers.of_tenure)
            for counter_id in counted:
                touched.update(readers.by_counter.get(counter_id, ()))
            held = _memo_put(self._fresh_checks, counted, Checks(frozenset(touched), readers.empty - touched))
        return held

    @cached_property
    def _fresh_checks(self) -> dict[frozenset[str], "Checks"]:
        return {}

    @cached_property
    def clocks(self) -> Clocks:
        """What time alone can change in the active segments, for their owners' due-times."""
        return clocks_of([self.definitions[slug].root for slug in self.active], self.definitions)

    @cached_property
    def readers(self) -> "Readers":
        """The active segments by what their trees read, through the segments they name: a batch
        looks up the counters it added to instead of asking fifty segments."""
        by_counter: dict[str, set[str]] = defaultdict(set)
        of_sessions, of_tenure = set(), set()
        for slug in self.active:
            if slug not in self.definitions:
                continue
            reads = _reads(slug, self.definitions)
            for counter_id in reads.counters:
                by_counter[counter_id].add(slug)
            if reads.session:
                of_sessions.add(slug)
            if reads.tenure:
                of_tenure.add(slug)
        # With no counter and no tenure to read, every window and session is empty: the answer
        # of a tree that reads no tenure is then its answer for any owner with no events of its counters.
        nothing = Facts()
        empty = frozenset(slug for slug in self.active if slug not in of_tenure and self.judges[slug](nothing, 0))
        return Readers(
            {key: frozenset(slugs) for key, slugs in by_counter.items()},
            frozenset(of_sessions),
            frozenset(of_tenure),
            empty,
        )

    @cached_property
    def scopes(self) -> dict[str, tuple[str, int]]:
        """Per counter id, its scope and (for a minute-counter) the longest window reading it."""
        return {counter.id: (counter.scope, self.horizons.get(counter.id, 0)) for counter in self.counters}

    @cached_property
    def horizons(self) -> dict[str, int]:
        """Per minute-counter, the longest window that reads it."""
        longest: dict[str, int] = {}
        for slug in self._used():
            for node in nodes_walk(self.definitions[slug].root):
                if getattr(node, "window", None):
                    longest[node.counter.id] = max(longest.get(node.counter.id, 0), node.window)
        return longest


class Reads(NamedTuple):
    counters: frozenset[str]  # counter ids
    session: bool  # a session-scoped counter among them
    tenure: bool  # a tenure among the nodes


class Readers(NamedTuple):
    by_counter: dict[str, frozenset[str]]  # counter id -> the segments reading it
    of_sessions: frozenset[str]  # the segments reading a session-scoped counter
    of_tenure: frozenset[str]  # the segments reading how long ago the owner's first event was
    empty: frozenset[str]  # the segments reading no tenure that hold for an owner with no events


def _reads(slug: str, definitions: Mapping[str, Definition]) -> Reads:
    counters: set[str] = set()
    session, tenure, seen, todo = False, False, set(), [slug]
    while todo:
        name = todo.pop()
        if name in seen or name not in definitions:
            continue
        seen.add(name)
        definition = definitions[name]
        counters.update(counter.id for counter in definition.counters)
        session = session or any(counter.scope == "session" for counter in definition.counters)
        tenure = tenure or any(isinstance(node, Tenure) for node in nodes_walk(definition.root))
        todo.extend(definition.references)
    return Reads(counters=frozenset(counters), session=session, tenure=tenure)


_cache: dict[str, tuple[float, Catalogue, list]] = {}


def catalogue_load() -> Catalogue:
    """Every segment's parsed definition, held per process for DEFINITIONS_TTL_SECONDS."""
    held = _cache.get("catalogue")
    if held is not None and time.monotonic() - held[0] < DEFINITIONS_TTL_SECONDS:
        return held[1]
    # Cluster segments have no definition: their members are written by each re-cluster alone.
    rows = list(Segment.objects.filter(cluster__isnull=True).values_list("id", "slug", "definition", "is_active"))
    if held is not None and held[2] == rows:
        # Unchanged: the copy keeps what it compiled and memoised.
        _cache["catalogue"] = (time.monotonic(), held[1], rows)
        return held[1]
    definitions, active, errors = {}, {}, {}
    for segment_id, slug, raw, is_active in rows:
        try:
            definitions[slug] = definition_parse(raw)
        except ConditionError as error:
            errors[slug] = str(error)
            continue
        if is_active:
            active[slug] = segment_id
    catalogue = Catalogue(definitions=definitions, active=active, errors=errors)
    _cache["catalogue"] = (time.monotonic(), catalogue, rows)
    return catalogue


def catalogue_forget() -> None:
    _cache.clear()


@dataclass
class Verdict:
    entered: set[str]
    exited: set[str]
    due_ms: int | None


def owner_judge(
    *,
    facts: Facts,
    current: set[str],
    now_ms: int,
    catalogue: Catalogue,
    only: Collection[str] | None = None,
    holding: Collection[str] = (),
) -> Verdict:
    """Which active segments (all, or only these, with those known to hold) the owner enters and
    leaves now, and when time alone may change any of them."""
    checked = set(catalogue.active if only is None else only)
    judges, now_minute = catalogue.judges, now_ms // MINUTE_MS
    matching = {slug for slug in checked if judges[slug](facts, now_minute)}
    checked.update(holding)
    matching.update(holding)
    return Verdict(
        entered=matching - current,
        exited=(current & checked) - matching,
        due_ms=next_change_ms(catalogue.clocks, facts, now_ms=now_ms),
    )


class Held(NamedTuple):
    """A memoised verdict, its due-time as minutes after the minute it was judged in."""

    entered: frozenset[str]
    exited: frozenset[str]
    due_in: int | None


def _verdict_key(read: "Read", checks: "Checks", *, catalogue: Catalogue, now_minute: int) -> tuple:
    """All a judgement of an owner reads, with each moment as minutes before now_minute: the trees
    compare windows and tenures to now, never to the clock, so two owners with the same key get
    the same verdict whenever they are judged."""
    scopes, parts = catalogue.scopes, []
    for key, value in read.fields.items():
        counter, kind, bucket = key.split("|", 2)
        scope = scopes[counter][0]
        # A session's fields are read back for the owner's current session alone.
        parts.append((counter, kind, now_minute - int(bucket) if scope == "minute" else scope, value))
    parts.sort()
    first = read.facts.first_ms
    since_first = None if first is None else now_minute - first // MINUTE_MS
    return tuple(parts), since_first, read.facts.session is None, frozenset(read.current), checks


def _verdict_of(read: "Read", checks: "Checks", *, catalogue: Catalogue, now_ms: int) -> Verdict:
    """owner_judge on a read, memoised (see Catalogue.verdicts)."""
    now_minute, memo = now_ms // MINUTE_MS, catalogue.verdicts
    key = _verdict_key(read, checks, catalogue=catalogue, now_minute=now_minute)
    held = memo.get(key)
    if held is not None:
        due_ms = None if held.due_in is None else (now_minute + held.due_in) * MINUTE_MS
        return Verdict(entered=set(held.entered), exited=set(held.exited), due_ms=due_ms)
    verdict = owner_judge(
        facts=read.facts,
        current=read.current,
        now_ms=now_ms,
        catalogue=catalogue,
        only=checks.only,
        holding=checks.holding,
    )
    due_in = None if verdict.due_ms is None else verdict.due_ms // MINUTE_MS - now_minute
    _memo_put(memo, key, Held(frozenset(verdict.entered), frozenset(verdict.exited), due_in))
    return verdict


def _memo_put(memo: dict, key, value):
    """Keep value in a catalogue's memo, which starts over once it holds VERDICTS_HELD."""
    if len(memo) >= VERDICTS_HELD:
        memo.clear()
    memo[key] = value
    return value


def memberships_record(*, changes: Sequence[tuple[str, str, bool]], at: datetime, catalogue: Catalogue) -> None:
    """Write entries and exits (owner, slug, entered) to Postgres in one transaction, after every
    transition the journal holds (segments/record.py). Recording one twice changes nothing. A
    process dying before the commit has published nothing to Redis yet, and the next evaluation
    finds and records the same transitions."""
    rows = rows_of(changes, at=at, segments=catalogue.active)
    if rows:
        record_with(lambda: memberships_write(rows))


def _journal_drain_soon() -> None:
    """A live batch's share of draining the journal: one chunk, skipped while another drain runs.
    A failure leaves the rows in the journal for the next drain (beat's, or the next batch's)."""
    try:
        journal_drain(wait=False, rounds=1)
    except (DatabaseError, RedisError) as error:
        logger.warning("membership journal not drained: %s", error)


def memberships_erase(*, owners: Iterable[str]) -> list[str]:
    """Forget erased people's segments: their membership rows go in the caller's (the erase's)
    transaction, begun after the journal was drained, and once it commits they leave each
    cluster's member set and the due-times. Returns their own Redis keys (counters, sets) for the
    erase's clean-up, which retries those until Redis answers; the member sets are tried once (a
    miss is logged)."""
    owners = sorted(set(owners))
    held = Membership.objects.filter(owner__in=owners)
    clusters = held.filter(exited_at__isnull=True, segment__cluster__isnull=False)
    slugs = set(clusters.values_list("segment__slug", flat=True))
    held.delete()

    def leave() -> None:
        try:
            pipe = redis_client().pipeline(transaction=False)
            _owners_leave_queue(pipe, owners=owners, slugs=slugs)
            pipe.execute()
        except RedisError:
            logger.warning("erased owners left in %d clusters' member sets: Redis did not answer", len(slugs))

    if owners:
        transaction.on_commit(leave)
    return [key for owner in owners for key in _owner_keys(owner)]


def _owner_keys(owner: str) -> list[str]:
    """An owner's own segment keys in Redis: counters, their meta, the hand-over mark, their set."""
    return [segment_counts_key(owner), segment_meta_key(owner), segment_handover_key(owner), owner_segments_key(owner)]


def _owners_leave_queue(pipe, *, owners: Sequence[str], slugs: Iterable[str]) -> None:
    """Queue owners leaving these clusters' member sets and the due-times (their own keys go apart)."""
    for slug in sorted(slugs):
        pipe.srem(segment_members_key(slug), *owners)
    pipe.zrem(segment_due_key(), *owners)


def memberships_publish(pipe, *, owner: str, verdict: Verdict) -> None:
    """Queue the Redis side of a verdict: the owner's set and their due-time."""
    _owner_set_queue(pipe, owner=owner, entered=verdict.entered, exited=verdict.exited)
    _due_queue(pipe, owner=owner, due_ms=verdict.due_ms)


def _owner_set_queue(pipe, *, owner: str, entered: Iterable[str], exited: Iterable[str]) -> None:
    """Queue an owner's entries and exits on the set pages read."""
    entered, exited = list(entered), list(exited)
    if entered:
        pipe.sadd(owner_segments_key(owner), *entered)
    if exited:
        pipe.srem(owner_segments_key(owner), *exited)


def cluster_sets_queue(pipe, *, owner: str, entered: Iterable[str], exited: Iterable[str]) -> None:
    """Queue an owner's entries and exits of cluster segments: on their set, and each cluster's members."""
    entered, exited = list(entered), list(exited)
    _owner_set_queue(pipe, owner=owner, entered=entered, exited=exited)
    for slug in entered:
        pipe.sadd(segment_members_key(slug), owner)
    for slug in exited:
        pipe.srem(segment_members_key(slug), owner)


def _due_score(due_ms: int | None) -> int | None:
    """A next time-based change as the due set keeps it: in whole seconds, rounded up (never early)."""
    return None if due_ms is None else -(-due_ms // 1000)


def _due_queue(pipe, *, owner: str, due_ms: int | None) -> None:
    """The owner's next time-based change in the due set."""
    if due_ms is None:
        pipe.zrem(segment_due_key(), owner)
    else:
        pipe.zadd(segment_due_key(), {owner: _due_score(due_ms)})


class Counting(NamedTuple):
    """A batch as shop/lua/segment_count.lua counts it, worked out once: the script's arguments,
    and what the batch adds, to work out the state the script will leave."""

    head: list  # the script's arguments from first ms to the sessions: first and last ms, session, sessions
    adding: list[tuple[uuid.UUID, list[tuple[str, int]]]]  # per event adding to a counter: its id, its fields
    added: dict[str, int]  # counter field -> amount, over the whole batch
    counted: frozenset[str]  # ids of the counters the batch adds to
    first_ms: int
    last_ms: int
    session: str  # of the batch's last event ('' when it has none)

    def events_args(self, *, summed: bool) -> list:
        """The script's events: each with its id, for an owner whose handover (a backfill's marks)
        must be asked about each; or summed, one field an increment, for an owner without one."""
        if summed:
            return [-1, len(self.added), *(item for pair in self.added.items() for item in pair)]
        args: list = [len(self.adding)]
        for event_id, pairs in self.adding:
            args += [str(event_id), len(pairs)]
            for pair in pairs:
                args += pair
        return args


def _counting(events: Sequence[TrackedEvent], *, catalogue: Catalogue) -> Counting:
    moments = [epoch_ms(event.occurred_at) for event in events]
    last = max(range(len(events)), key=lambda index: (moments[index], index))
    session = str(events[last].session_id or "")
    sessions: dict[uuid.UUID, int] = {}
    one = events[0].session_id
    if all(event.session_id is one for event in events):
        # A collected batch's events share its session (the common case, without a hash an event).
        if one is not None:
            sessions[one] = max(moments)
    else:
        for session_id, moment in zip((event.session_id for event in events), moments, strict=True):
            if session_id is not None:
                sessions[session_id] = max(sessions.get(session_id, moment), moment)
    head: list = [min(moments), moments[last], session, len(sessions)]
    for session_id, moment in sessions.items():
        head += [str(session_id), moment]
    # Only the events that add to a counter go: the script does nothing for one that adds none.
    adding: list[tuple[uuid.UUID, list[tuple[str, int]]]] = []
    added: dict[str, int] = {}
    by_event, where_keys = catalogue.by_event, catalogue.where_keys
    # Events alike in all the counters read (a page's impressions, in one minute) add the same.
    alike: dict[tuple, list[tuple[str, int]]] = {}
    for event, moment in zip(events, moments, strict=True):
        counters = by_event.get(event.name)
        if not counters:
            continue
        properties = event.properties
        # Each value with its type: True == 1 == 1.0 as keys, not as counted ("True", "1", "1.0").
        value = properties.get("value")
        # The session by identity: a UUID hashes in Python, and a miss only costs the work saved.
        key = (event.name, id(event.session_id), moment // MINUTE_MS, value, type(value))
        for where in where_keys[event.name]:
            if where == "product":
                value = event.product_id
            elif where == "category":
                value = event.category_id
            else:
                value = properties.get("page_location" if where == "utm_source" else where)
            key += (value, type(value))
        try:
            pairs = alike.get(key)
        except TypeError:  # a property that is a list or an object: worked out on its own
            key, pairs = None, None
        if pairs is None:
            pairs = increments(
                counters,
                name=event.name,
                product_id=event.product_id,
                category_id=event.category_id,
                properties=properties,
                session_id=event.session_id,
                at_ms=moment,
            )
            if key is not None:
                alike[key] = pairs
        if not pairs:
            continue
        adding.append((event.event_id, pairs))
        for field_name, amount in pairs:
            added[field_name] = added.get(field_name, 0) + amount
    return Counting(
        head=head,
        adding=adding,
        added=added,
        counted=frozenset(key.split("|", 1)[0] for key in added),
        first_ms=min(moments),
        last_ms=moments[last],
        session=session,
    )


class Publish(NamedTuple):
    """A verdict for the count script to publish, if the owner's state is still the one judged."""

    state: str  # state_text() of what the verdict was judged on
    verdict: Verdict
    rows: list[str]  # its transitions, as the journal holds them (segments/record.py)


def _count_queue(
    batch: RedisBatch,
    *,
    owner: str,
    catalogue: Catalogue,
    now_ms: int,
    counting: Counting | None = None,
    summed: bool = False,
    publish: Publish | None = None,
) -> int:
    """Queue shop/lua/segment_count.lua for an owner: count a batch (none for a read; summed, when
    the owner was seen without a handover), trim, read back what the evaluator needs, and publish
    a verdict. Returns where the reply will be."""
    args: list = [COUNTS_TTL, now_ms // MINUTE_MS, _session_lifetime_ms()]
    if counting is None:
        args += ["", "", "", 0, catalogue.specs, 0]
    else:
        args += [*counting.head, catalogue.specs, *counting.events_args(summed=summed)]
    args.append(owner)
    keys = [
        segment_counts_key(owner),
        segment_meta_key(owner),
        owner_segments_key(owner),
        segment_handover_key(owner),
        segment_due_key(),
    ]
    if publish is not None:
        entered, exited = sorted(publish.verdict.entered), sorted(publish.verdict.exited)
        score = _due_score(publish.verdict.due_ms)
        args += [publish.state, "" if score is None else score, len(entered), *entered, len(exited), *exited]
        args += [len(publish.rows), *publish.rows]
        keys.append(segment_journal_key())
    return batch.script("segment_count", keys=keys, args=args)


# What shop/lua/segment_count.lua answers, having written nothing, to a summed batch of an owner
# whose handover appeared after the read ahead: the batch must go again event by event.
HANDOVER_REPLY = b"handover"


def _session_lifetime_ms() -> int:
    return settings.TRACKING_SESSION_MINUTES * MINUTE_MS


class Read(NamedTuple):
    """What shop/lua/segment_count.lua read back for one owner."""

    fields: dict[str, int]  # the counter fields the evaluator reads
    facts: Facts
    current: set[str]  # the segments they are in
    previous_session: str | None  # the session of their last event before this call
    due_ms: int | None  # their due-time as it stood
    last_ms: int | None  # the moment of their last event


def _fields_of(flat: list) -> dict[str, int]:
    """A hash's fields from a script's reply, as HGETALL gives them there: field, value, field..."""
    return {flat[index].decode(): int(flat[index + 1]) for index in range(0, len(flat), 2)}


def _read_from(reply: list) -> Read:
    # The last item, whether a verdict given went out, is the caller's to look at.
    flat, first, session, members, previous, due, last, _ = reply
    return _read_of(
        _fields_of(flat),
        first_ms=int(first) if first else None,
        session=session.decode() or None,
        current={member.decode() for member in members},
        previous_session=previous.decode() or None,
        due_ms=int(float(due)) * 1000 if due else None,
        last_ms=int(last) if last else None,
    )


def _read_of(fields: dict[str, int], *, first_ms: int | None, session: str | None, **rest) -> Read:
    return Read(fields=fields, facts=Facts.from_fields(fields, first_ms=first_ms, session=session), **rest)


def state_text(read: Read) -> str:
    """The state a verdict is judged on, as shop/lua/segment_count.lua writes it to compare."""
    lines = sorted(f"{key}={value}" for key, value in read.fields.items())
    lines += [f"first={read.facts.first_ms or ''}", f"session={read.facts.session or ''}"]
    lines += sorted(f"in={slug}" for slug in read.current)
    return "\n".join(lines)


class Ahead(NamedTuple):
    """An owner's state as stored, read before their batch was (segments_read_ahead)."""

    fields: dict[str, int]  # every counter field, untrimmed
    first_ms: int | None
    last_ms: int | None
    session: str | None
    current: set[str]
    due_ms: int | None
    handover: bool  # a backfill's marks: each event must then be counted with its id
    journal: list  # its length, its oldest row, whether a drain holds its lock
    catalogue: Catalogue


def _read_after(ahead: Ahead, counting: Counting, *, now_ms: int) -> Read:
    """The state the count script leaves when it counts this batch onto the state read ahead, as
    it trims and reads back (shop/lua/segment_count.lua), if no one else writes the owner meanwhile;
    the script compares before it publishes."""
    # The script takes the session of the batch's last event unless the owner has a later one.
    later = ahead.last_ms is not None and counting.last_ms < ahead.last_ms
    session = ahead.session if later else counting.session or None
    first_ms = counting.first_ms if ahead.first_ms is None else min(ahead.first_ms, counting.first_ms)
    fields = dict(ahead.fields)
    for key, amount in counting.added.items():
        fields[key] = fields.get(key, 0) + amount
    now_minute, scopes = now_ms // MINUTE_MS, ahead.catalogue.scopes
    kept = {}
    for key, value in fields.items():
        counter, _, bucket = key.split("|", 2)
        if counter not in scopes:
            # A counter no definition in use reads (one edited away): kept, not read back.
            continue
        scope, horizon = scopes[counter]
        if scope == "minute":
            keep = bucket.isdigit() and int(bucket) > now_minute - horizon
        else:
            # A session's fields of another session than the current are not read back.
            keep = scope == "all" or bucket == session
        if keep:
            kept[key] = value
    return _read_of(
        kept,
        first_ms=first_ms,
        session=session,
        current=ahead.current,
        previous_session=ahead.session,
        due_ms=ahead.due_ms,
        last_ms=max(counting.last_ms, ahead.last_ms or counting.last_ms),
    )


def _changes(owner: str, verdict: Verdict) -> list[tuple[str, str, bool]]:
    return [(owner, slug, True) for slug in sorted(verdict.entered)] + [
        (owner, slug, False) for slug in sorted(verdict.exited)
    ]


class Checks(NamedTuple):
    """Which segments a batch's verdict judges (None: all), and which of the others it knows hold."""

    only: frozenset[str] | None
    holding: frozenset[str] = frozenset()


ALL_CHECKED = Checks(None)


def _segments_touched(
    read: Read, *, counting: Counting | None, catalogue: Catalogue, now_ms: int, fresh: bool = False
) -> Checks:
    """The segments a batch can have changed.

    Between two checks of an owner, a segment's answer changes only by an event counted into what
    its tree reads, by a new session (session counters), or by time; and time's changes all come at
    or after the due-time the last check set, which is the soonest over every active segment. So
    while that due-time is still ahead, only the segments reading a counter this batch added to
    (or a session counter, when the session changed) are checked. A batch holding the owner's first
    event checks everything: tenure starts, and "never did X" holds for the first time; unless the
    owner had nothing at all before it (fresh: no counters, first event or segments), when a
    segment reading neither tenure nor a counter the batch added gives its answer for no events.
    """
    facts = read.facts
    if counting is None or (read.due_ms is not None and read.due_ms <= now_ms):
        return ALL_CHECKED
    if fresh:
        return catalogue.fresh_checks(counting.counted)
    readers = catalogue.readers
    touched = set()
    for counter_id in counting.counted:
        touched.update(readers.by_counter.get(counter_id, ()))
    if facts.first_ms is None or facts.first_ms >= counting.first_ms:
        return ALL_CHECKED
    if read.previous_session != facts.session:
        touched |= readers.of_sessions
    return Checks(frozenset(touched))


def _journal_queue_look(pipe) -> None:
    """Queue the look at the journal that decides whether a batch drains it (journal_due)."""
    pipe.llen(segment_journal_key())
    pipe.lindex(segment_journal_key(), 0)
    # A drain under way: a batch leaves the journal to it instead of asking for the lock in
    # vain, a round trip that every batch paid while a drain ran.
    pipe.exists(segment_journal_lock_key())


def segments_read_ahead(*, owner: str, batch: RedisBatch, catalogue: Catalogue):
    """Queue the read of an owner's state (and a look at the journal) on the round trip made before
    their batch is stored; returns what takes the Ahead from that trip's replies. Read as stored:
    what the count script would trim or not read back, _read_after leaves out."""
    position = batch.script(
        "segment_read",
        keys=[
            segment_counts_key(owner),
            segment_meta_key(owner),
            owner_segments_key(owner),
            segment_due_key(),
            segment_handover_key(owner),
            segment_journal_key(),
            segment_journal_lock_key(),
        ],
        args=[owner],
    )

    def take(replies: list) -> Ahead:
        counts, (first, last, session), members, due, handover, pending, oldest, draining = replies[position]
        return Ahead(
            fields=_fields_of(counts),
            first_ms=int(first) if first else None,
            last_ms=int(last) if last else None,
            session=session.decode() if session else None,
            current={member.decode() for member in members},
            due_ms=int(float(due)) * 1000 if due else None,
            handover=bool(handover),
            journal=[pending, oldest or None, draining],
            catalogue=catalogue,
        )

    return take


def segments_ingest(
    *, owner: str, events: Sequence[TrackedEvent], batch: RedisBatch, catalogue: Catalogue, ahead: Ahead | None = None
) -> Verdict:
    """Count a stored batch into the owner's counters and re-check their segments.

    With the state read ahead (segments_read_ahead), the verdict is judged on what counting this
    batch onto it leaves, and one call on the ingest's batch counts, and publishes the verdict
    with the journal's rows (segments/record.py) unless the state turned out otherwise, in which
    case it is judged again on the state that call returned. Without one, a round trip of its own
    counts and reads back first. Once the journal is due, a drain follows the ingest's batch.
    """
    now = timezone.now()
    now_ms = epoch_ms(now)
    counting = _counting(events, catalogue=catalogue) if events else None
    if ahead is not None and ahead.catalogue is catalogue and counting is not None:
        read = _read_after(ahead, counting, now_ms=now_ms)
        journal, counting_left, summed = ahead.journal, counting, not ahead.handover
        fresh = ahead.first_ms is None and not ahead.fields and not ahead.current
    else:
        own = RedisBatch(batch.client)
        position = _count_queue(own, owner=owner, catalogue=catalogue, now_ms=now_ms, counting=counting)
        _journal_queue_look(own.pipe)
        replies = own.execute()
        read, journal, counting_left, summed = _read_from(replies[position]), replies[position + 1 :], None, False
        fresh = False
    checks = _segments_touched(read, counting=counting, catalogue=catalogue, now_ms=now_ms, fresh=fresh)
    verdict, rows, position = _verdict_queue(
        batch,
        owner=owner,
        read=read,
        catalogue=catalogue,
        now=now,
        counting=counting_left,
        summed=summed,
        checks=checks,
        fresh=fresh,
    )
    batch.then(
        position, lambda reply: _published_or_again(reply, owner=owner, catalogue=catalogue, counting=counting_left)
    )
    pending, oldest, draining = journal
    if not draining and journal_due(pending=pending, oldest=oldest, adding=len(rows), now_ms=now_ms):
        batch.after(_journal_drain_soon)
    return verdict


def _verdict_queue(
    batch: RedisBatch,
    *,
    owner: str,
    read: Read,
    catalogue: Catalogue,
    now: datetime,
    counting: Counting | None = None,
    summed: bool = False,
    checks: Checks = ALL_CHECKED,
    fresh: bool = False,
) -> tuple[Verdict, list[str], int]:
    """Judge the state read (only some segments, or all; fresh: of an owner with nothing stored
    before) and queue the count script's call that publishes the verdict if that state still holds
    (counting the batch first, when given). Returns the verdict, its journal rows and where the
    call's reply will be."""
    now_ms = epoch_ms(now)
    verdict = _verdict_of(read, checks, catalogue=catalogue, now_ms=now_ms)
    rows = lines_of(_changes(owner, verdict), at=now_ms, segments=catalogue.active, first=fresh)
    publish = Publish(state_text(read), verdict, rows)
    position = _count_queue(
        batch, owner=owner, catalogue=catalogue, now_ms=now_ms, counting=counting, summed=summed, publish=publish
    )
    return verdict, rows, position


# Judgements of one owner in a row that another writer of theirs can overtake before the next
# event, due-time or sweep looks at them again.
PUBLISH_TRIES = 3


def _published_or_again(reply, *, owner: str, catalogue: Catalogue, counting: Counting | None = None) -> None:
    """After a batch's call: done if its verdict went out. If the owner's state was not the one
    judged (another writer came in between), judge the state the call returned and publish that,
    on the same terms; if the batch went summed and a backfill's handover had appeared meanwhile,
    count it event by event first. Runs after the ingest's round trip, so it never fails the ingest."""
    try:
        if reply == HANDOVER_REPLY:
            again = RedisBatch()
            position = _count_queue(
                again, owner=owner, catalogue=catalogue, now_ms=epoch_ms(timezone.now()), counting=counting
            )
            reply = again.execute()[position]
        for _ in range(PUBLISH_TRIES):
            # Published: the reply is that alone (the state it judged is the caller's already).
            if reply[-1] == 1:
                return
            again = RedisBatch()
            _, _, position = _verdict_queue(
                again, owner=owner, read=_read_from(reply), catalogue=catalogue, now=timezone.now()
            )
            reply = again.execute()[position]
        if reply[-1] != 1:
            logger.warning("segments of %s not published: their state changed %d times in a row", owner, PUBLISH_TRIES)
    except Exception:
        # The counters hold the batch: the next batch, due-time or sweep finds what is left.
        logger.exception("segments of %s not published", owner)


@dataclass
class DueResult:
    owners: int = 0
    entered: int = 0
    exited: int = 0
    lateness_ms: list[int] = field(default_factory=list)


def _owners_check(client, owners: Sequence[str], *, catalogue: Catalogue, now: datetime) -> dict[str, Verdict]:
    """Re-check owners from their counters as they stand (no new event): read, judge, record, publish."""
    now_ms = epoch_ms(now)
    read = RedisBatch(client)
    positions = [_count_queue(read, owner=owner, catalogue=catalogue, now_ms=now_ms) for owner in owners]
    replies = read.execute()
    verdicts, changes = {}, []
    for owner, position in zip(owners, positions, strict=True):
        read = _read_from(replies[position])
        verdicts[owner] = verdict = owner_judge(
            facts=read.facts, current=read.current, now_ms=now_ms, catalogue=catalogue
        )
        changes.extend(_changes(owner, verdict))
    memberships_record(changes=changes, at=now, catalogue=catalogue)
    publish = client.pipeline(transaction=False)
    for owner, verdict in verdicts.items():
        memberships_publish(publish, owner=owner, verdict=verdict)
    publish.execute()
    return verdicts


def segments_due_fire(*, limit: int = 5000) -> DueResult:
    """Re-check every owner whose due-time has come; they are taken off the sorted set
    atomically, so two workers never fire one twice, and put back with their next due-time."""
    catalogue = catalogue_load()
    client = redis_client()
    result = DueResult()
    now = timezone.now()
    now_ms = epoch_ms(now)
    take = RedisBatch(client)
    take.pipe.zrangebyscore(segment_due_key(), "-inf", now_ms // 1000, start=0, num=limit, withscores=True)
    take.script("segment_due_pop", keys=[segment_due_key()], args=[now_ms // 1000, limit])
    scored, owners = take.execute()
    due_at = {owner.decode(): int(score) for owner, score in scored}
    owners = [owner.decode() for owner in owners]
    for start in range(0, len(owners), OWNERS_PER_ROUND_TRIP):
        chunk = owners[start : start + OWNERS_PER_ROUND_TRIP]
        for owner, verdict in _owners_check(client, chunk, catalogue=catalogue, now=now).items():
            if verdict.entered or verdict.exited:
                result.lateness_ms.append(now_ms - due_at.get(owner, now_ms // 1000) * 1000)
            result.entered += len(verdict.entered)
            result.exited += len(verdict.exited)
        result.owners += len(chunk)
    return result


class OwnerHistory(NamedTuple):
    """One owner's counters built from the record, and the events a live batch may still be counting."""

    owner: str
    fields: dict[str, int]
    facts: Facts
    last_ms: int | None
    recent: tuple[str, ...]  # ids of counted events received since recent_since
    sessions: dict[str, int]  # the sessions not over, with their last event's ms


def _owners_filter(owners: Iterable[str]) -> Q:
    """The events of these owners by the indexed columns (the owner expression has no index)."""
    users, visitors = [], []
    for key in owners:
        parsed = Owner.parse(key)
        if parsed.user_id:
            users.append(parsed.user_id)
        else:
            visitors.append(parsed.visitor_id)
    return Q(user_id__in=users) | Q(user_id__isnull=True, visitor_id__in=visitors)


def record_events():
    # Imported datasets are other shops' customers (the live hook never sees them either).
    return Event.objects.exclude(source=Source.IMPORT).annotate(owner=owner_key_expression())


def record_rows(*, owners: Iterable[str] | None = None):
    """What the backfill reads of the record, owner by owner in time order (every owner's, or these)."""
    events = record_events()
    if owners is not None:
        events = events.filter(_owners_filter(owners))
    return events.order_by("owner", "occurred_at", "id").values_list(
        "owner",
        "event_id",
        "name",
        "product_id",
        "category_id",
        "properties",
        "session_id",
        "occurred_at",
        "received_at",
    )


def owners_facts(
    *, catalogue: Catalogue, owners: Iterable[str] | None = None, recent_since: datetime | None = None
) -> Iterator[OwnerHistory]:
    """The backfill driver: each owner's counter fields and facts built from the Postgres record
    by the same increments() the ingest hook uses, owner by owner."""
    by_event = catalogue.by_event
    rows = record_rows(owners=owners)
    current, fields, first, last, session, recent, sessions = None, defaultdict(int), None, None, None, [], {}
    lifetime_ms = _session_lifetime_ms()

    def finish():
        facts = Facts.from_fields(fields, first_ms=first, session=str(session) if session else None)
        alive = sessions_alive(sessions, last_ms=last, lifetime_ms=lifetime_ms)
        return OwnerHistory(current, dict(fields), facts, last, tuple(recent), alive)

    for (
        owner,
        event_id,
        name,
        product_id,
        category_id,
        properties,
        session_id,
        occurred_at,
        received_at,
    ) in rows.iterator(chunk_size=BACKFILL_CHUNK):
        if owner != current:
            if current is not None:
                yield finish()
            current, fields, first, last, session, recent, sessions = owner, defaultdict(int), None, None, None, [], {}
        at_ms = epoch_ms(occurred_at)
        added = increments(
            by_event.get(name, ()),
            name=name,
            product_id=product_id,
            category_id=category_id,
            properties=properties,
            session_id=session_id,
            at_ms=at_ms,
        )
        for key, amount in added:
            fields[key] += amount
        if added and recent_since is not None and received_at >= recent_since:
            recent.append(str(event_id))
        first = at_ms if first is None else min(first, at_ms)
        if session_id is not None:
            sessions[str(session_id)] = at_ms
        if last is None or at_ms >= last:
            last, session = at_ms, session_id
    if current is not None:
        yield finish()


@dataclass
class BackfillResult:
    owners: int = 0
    members: dict[str, int] = field(default_factory=dict)
    corrections: dict[str, int] = field(default_factory=dict)  # slug -> memberships the record had wrong
    rechecked: int = 0  # owners a live batch reached while the backfill read their record
    seconds: float = 0.0


def _open_memberships(catalogue: Catalogue | None, owners: set[str] | None) -> dict[str, set[str]]:
    """Owner -> the segments the record has them in: the catalogue's active ones, or (None) the clusters."""
    if catalogue is None:
        slugs = dict(Segment.objects.filter(cluster__isnull=False, is_active=True).values_list("id", "slug"))
    else:
        slugs = {segment_id: slug for slug, segment_id in catalogue.active.items()}
    rows = Membership.objects.filter(exited_at__isnull=True, segment_id__in=slugs)
    if owners is not None:
        rows = rows.filter(owner__in=owners)
    held: dict[str, set[str]] = defaultdict(set)
    for owner, segment_id in rows.values_list("owner", "segment_id").iterator(chunk_size=BACKFILL_CHUNK):
        held[owner].add(slugs[segment_id])
    return held


def _owners_chunked(owners: Iterable[str]) -> Iterator[list[str]]:
    chunk = []
    for owner in owners:
        chunk.append(owner)
        if len(chunk) >= OWNERS_PER_ROUND_TRIP:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def segments_backfill(*, owners: Iterable[str] | None = None) -> BackfillResult:
    """Evaluate every active segment over the record and make Postgres and Redis agree with it:
    what a new or edited segment, a Redis flush, a login and the periodic sweep all call. Rewrites
    the owners' counters and sets in Redis; counts in corrections what the record had to change.

    Live batches go on meanwhile. Owners are taken 500 at a time: their handovers are opened
    before their record is read, so a batch counted while the backfill reads is added back to
    the counters it writes, and an event it counted is not counted again by a late batch
    (shop/lua/segment_counts_replace.lua); owners a batch reached meanwhile are re-checked.
    """
    started = time.monotonic()
    catalogue_forget()
    catalogue = catalogue_load()
    wanted = set(owners) if owners is not None else None
    journal_drain()
    held = _open_memberships(catalogue, wanted)
    # Cluster memberships are not the evaluator's to judge, but the owner's set is rewritten whole.
    clustered = _open_memberships(None, wanted)
    now = timezone.now()
    now_ms = epoch_ms(now)
    result = BackfillResult(members=dict.fromkeys(catalogue.active, 0), corrections=dict.fromkeys(catalogue.active, 0))
    client = redis_client()
    if wanted is None and catalogue.definitions:
        # Only clusters keep a members set: one under a rule segment's name is stale, and would never shrink.
        client.delete(*(segment_members_key(slug) for slug in catalogue.definitions))

    def settle(write: RedisBatch, history: OwnerHistory, changes: list) -> int:
        owner, facts = history.owner, history.facts
        record = held.get(owner, set())
        verdict = owner_judge(facts=facts, current=record, now_ms=now_ms, catalogue=catalogue)
        members = (record | verdict.entered) - verdict.exited
        for slug in members:
            result.members[slug] += 1
        for slug in verdict.entered | verdict.exited:
            result.corrections[slug] += 1
        changes.extend(_changes(owner, verdict))
        stale = set(stale_fields(facts, horizons=catalogue.horizons, now_ms=now_ms, alive=history.sessions))
        live = [item for key, value in history.fields.items() if key not in stale for item in (key, value)]
        position = write.script(
            "segment_counts_replace",
            keys=[segment_counts_key(owner), segment_meta_key(owner), segment_handover_key(owner)],
            args=[
                COUNTS_TTL,
                HANDOVER_SECONDS,
                "" if facts.first_ms is None else facts.first_ms,
                history.last_ms or "",
                facts.session or "",
                len(history.sessions),
                *(item for pair in history.sessions.items() for item in pair),
                len(live) // 2,
                *live,
                *history.recent,
            ],
        )
        write.pipe.delete(owner_segments_key(owner))
        clusters = clustered.get(owner, set())
        published = members | clusters
        if published:
            write.pipe.sadd(owner_segments_key(owner), *published)
        # A cluster's members set too, which a Redis flush emptied; a rule segment keeps none.
        for slug in clusters:
            write.pipe.sadd(segment_members_key(slug), owner)
        _due_queue(write.pipe, owner=owner, due_ms=verdict.due_ms)
        return position

    def settle_chunk(chunk: list[str]) -> None:
        opened = timezone.now()
        handovers = client.pipeline(transaction=False)
        for owner in chunk:
            handovers.hset(segment_handover_key(owner), "open", 1)
            handovers.expire(segment_handover_key(owner), HANDOVER_SECONDS)
        handovers.execute()
        write, changes, positions = RedisBatch(client), [], {}
        since = opened - timedelta(seconds=HANDOVER_SECONDS)
        for history in owners_facts(catalogue=catalogue, owners=chunk, recent_since=since):
            positions[history.owner] = settle(write, history, changes)
        # Owners the record holds in a segment who have no events left (erased or purged) leave it.
        for owner in chunk:
            if owner not in positions:
                positions[owner] = settle(write, OwnerHistory(owner, {}, Facts(), None, (), {}), changes)
        memberships_record(changes=changes, at=now, catalogue=catalogue)
        replies = write.execute()
        reached = [owner for owner, position in positions.items() if replies[position]]
        if reached:
            _owners_check(client, reached, catalogue=catalogue, now=now)
        result.owners += len(chunk)
        result.rechecked += len(reached)

    if wanted is not None:
        for chunk in _owners_chunked(sorted(wanted | set(held))):
            settle_chunk(chunk)
    else:
        listed = (
            record_events()
            .values_list("owner", flat=True)
            .distinct()
            .order_by("owner")
            .iterator(chunk_size=BACKFILL_CHUNK)
        )
        seen: set[str] = set()
        for chunk in _owners_chunked(listed):
            seen.update(chunk)
            settle_chunk(chunk)
        for chunk in _owners_chunked(sorted(set(held) - seen)):
            settle_chunk(chunk)
        Segment.objects.filter(id__in=catalogue.active.values()).update(last_evaluated_at=now, last_error="")
        for slug, segment_id in catalogue.active.items():
            Segment.objects.filter(id=segment_id).update(last_corrections=result.corrections[slug])
        for slug, error in catalogue.errors.items():
            Segment.objects.filter(slug=slug).update(last_error=error, last_evaluated_at=now)
    result.seconds = time.monotonic() - started
    return result


def segments_owner_merge(*, visitor: str, user: str) -> BackfillResult:
    """A visitor logged in and tracking made their anonymous events the user's: the user's counters
    are rebuilt from the record (one code path, no merge arithmetic), the visitor's open stays
    move to the user (keeping when they began) unless the user has one of their own, and the
    visitor's Redis keys go. The backfill then records whatever the merged history changes."""
    now = timezone.now()

    def stays_move() -> None:
        with transaction.atomic():
            held = Membership.objects.filter(owner=user, exited_at__isnull=True).values_list("segment_id", flat=True)
            stays = Membership.objects.filter(owner=visitor, exited_at__isnull=True)
            stays.filter(segment_id__in=list(held)).update(exited_at=now)
            stays.update(owner=user)

    record_with(stays_move)
    result = segments_backfill(owners=[user])
    client = redis_client()
    slugs = Segment.objects.filter(cluster__isnull=False).values_list("slug", flat=True)
    pipe = client.pipeline(transaction=False)
    pipe.delete(*_owner_keys(visitor))
    _owners_leave_queue(pipe, owners=[visitor], slugs=slugs)
    pipe.execute()
    return result


@dataclass
class Preview:
    count: int
    sample: list[str]


def segment_preview(*, slug: str, definition: Definition, sample: int = 10) -> Preview:
    """How many owners a definition matches now, and a few of them, computed by the backfill
    driver over the record without writing anything."""
    catalogue = catalogue_load()
    definitions = {**catalogue.definitions, slug: definition}
    trial = Catalogue(definitions=definitions, active={slug: 0})
    judge, now_minute = trial.judges[slug], epoch_ms(timezone.now()) // MINUTE_MS
    count, chosen = 0, []
    for history in owners_facts(catalogue=trial):
        if judge(history.facts, now_minute):
            count += 1
            if len(chosen) < sample:
                chosen.append(history.owner)
    return Preview(count=count, sample=chosen)


def segment_sizes(*, segment: Segment, days: int = 30) -> list[tuple[datetime, int]]:
    """Members at the end of each of the last days, from the record of entries and exits."""
    today = timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    ends = [today - timedelta(days=offset) + timedelta(days=1) for offset in range(days - 1, -1, -1)]
    stays = list(segment.memberships.values_list("entered_at", "exited_at"))
    return [
        (end, sum(1 for entered, exited in stays if entered < end and (exited is None or exited >= end)))
        for end in ends
    ]


def segment_members(*, segment: Segment) -> Iterator[tuple[str, datetime]]:
    """The owners in a segment now, by the record, with when they entered."""
    yield from (
        segment.memberships.filter(exited_at__isnull=True)
        .order_by("entered_at", "owner")
        .values_list("owner", "entered_at")
        .iterator(chunk_size=BACKFILL_CHUNK)
    )


def owner_segments(*, owner: str) -> set[str]:
    """The segments an owner is in, as the page reads them."""
    return {slug.decode() for slug in redis_client().smembers(owner_segments_key(owner))}
