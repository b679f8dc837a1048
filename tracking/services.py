"""The one ingest path: validate, store durably and exactly once, then tell the hooks."""

import logging
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import CharField
from django.utils import timezone
from redis.exceptions import RedisError

from shop.database import server_cursor
from shop.keyspace import RedisBatch

from .hooks import StoredBatch, TrackedEvent, hooks_batch_stored, hooks_visitor_identified
from .models import Event, EventKey, RejectedEvent, VisitorLink
from .registry import Source
from .validation import (
    MAX_AGE,
    MAX_FUTURE,
    CleanEvent,
    Rejected,
    event_validate,
    masked_text,
    parse_timestamp,
    payload_excerpt,
)

logger = logging.getLogger(__name__)

MAX_BATCH = 100
# Skew below this is network delay, not a wrong clock; leave such times as sent.
SKEW_TOLERANCE = timedelta(seconds=2)
COLUMNS = (
    "event_id",
    "name",
    "source",
    "visitor_id",
    "user_id",
    "session_id",
    "product_id",
    "category_id",
    "properties",
    "client_ts",
    "occurred_at",
    "received_at",
)


@dataclass(frozen=True)
class Envelope:
    """What every event of one ingest call shares."""

    source: str
    visitor_id: uuid.UUID
    user_id: int | None
    session_id: uuid.UUID | None
    received_at: datetime


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict] = field(default_factory=list)
    stored: list[TrackedEvent] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


def clock_skew(*, sent_at: Any, received_at: datetime) -> timedelta:
    """What to add to the client's times to get server time; zero when unknown or small."""
    if sent_at is None:
        return timedelta(0)
    try:
        skew = received_at - parse_timestamp(sent_at)
    except (Rejected, OverflowError):
        return timedelta(0)
    # A clock days off is broken, not skewed: judge its events by their own times.
    return skew if SKEW_TOLERANCE < abs(skew) <= MAX_AGE else timedelta(0)


# The Postgres insert binds what a batch shares (source, visitor, user, session, receipt) once,
# the per-event columns as arrays, and all properties as one JSON array zipped in by ROWS FROM.
# One statement claims each event id in tracking_eventkey and stores only the events whose
# claim was new, so an id is stored once whatever its timestamp, even when two requests race.
PER_EVENT = (
    ("event_id", "unnest(%b::uuid[])"),
    ("name", "unnest(%b::varchar[])"),
    ("product_id", "unnest(%b::bigint[])"),
    ("category_id", "unnest(%b::bigint[])"),
    ("properties", "jsonb_array_elements(%b::jsonb)"),
    ("client_ts", "unnest(%b::timestamptz[])"),
    ("occurred_at", "unnest(%b::timestamptz[])"),
)
PER_BATCH = {
    "source": "%b::varchar",
    "visitor_id": "%b::uuid",
    "user_id": "%b::bigint",
    "session_id": "%b::uuid",
    "received_at": "%b::timestamptz",
}
KEY_TABLE = EventKey._meta.db_table
INSERT_ZIPPED = (
    f"WITH batch AS (SELECT * FROM ROWS FROM ({', '.join(function for _, function in PER_EVENT)}) "  # noqa: S608
    f"AS e({', '.join(column for column, _ in PER_EVENT)})), "
    f"claimed AS (INSERT INTO {KEY_TABLE} (event_id, received_at) SELECT event_id, %b::timestamptz FROM batch "
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id) "
    f"INSERT INTO tracking_event ({', '.join(COLUMNS)}) "
    f"SELECT {', '.join(PER_BATCH.get(column, f'batch.{column}') for column in COLUMNS)} "
    "FROM batch JOIN claimed USING (event_id) "
    "ON CONFLICT (event_id, client_ts) DO NOTHING RETURNING event_id"
)


def _insert_postgres(envelope: Envelope, events: list[CleanEvent]) -> list[tuple]:
    """The batch in one statement bound on the server and prepared once per connection
    where DB_PREPARE_THRESHOLD allows (see shop/settings/base.py for what that saves).

    The properties go as one JSON text (one call of the C encoder) and the envelope once, not
    per row: psycopg builds arrays element by element in Python, the largest cost here."""
    from psycopg.types.json import Jsonb

    params: list[Any] = []
    for column, _ in PER_EVENT:
        values = [getattr(event, column) for event in events]
        params.append(Jsonb(values) if column == "properties" else values)
    params.append(envelope.received_at)  # the keys' received_at
    params.extend(getattr(envelope, column) for column in COLUMNS if column in PER_BATCH)
    with server_cursor() as cursor:
        cursor.execute(INSERT_ZIPPED, params, prepare=True)
        return cursor.fetchall()


def _insert_portable(envelope: Envelope, events: list[CleanEvent]) -> list[tuple]:
    """For SQLite (the embedded default), which has no INSERT inside WITH: the key claims and
    the events as two multi-row INSERTs in one transaction."""
    claims = ", ".join(["(%s, %s)"] * len(events))
    # Django's own text form of a time on SQLite, so the retention purge compares like with like.
    received = connection.ops.adapt_datetimefield_value(envelope.received_at)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {KEY_TABLE} (event_id, received_at) VALUES {claims} "  # noqa: S608
            "ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
            [value for event in events for value in (event.event_id.hex, received)],
        )
        claimed = {uuid.UUID(str(value)) for (value,) in cursor.fetchall()}
        events = [event for event in events if event.event_id in claimed]
        if not events:
            return []
        properties_field = Event._meta.get_field("properties")
        session = envelope.session_id.hex if envelope.session_id else None
        params: list[Any] = []
        for event in events:
            params.extend(  # in COLUMNS order
                (
                    event.event_id.hex,
                    event.name,
                    envelope.source,
                    envelope.visitor_id.hex,
                    envelope.user_id,
                    session,
                    event.product_id,
                    event.category_id,
                    properties_field.get_db_prep_save(event.properties, connection),
                    event.client_ts,
                    event.occurred_at,
                    envelope.received_at,
                )
            )
        placeholders = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
        cursor.execute(
            f"INSERT INTO {Event._meta.db_table} ({', '.join(COLUMNS)}) VALUES "  # noqa: S608
            + ", ".join([placeholders] * len(events))
            + " ON CONFLICT (event_id, client_ts) DO NOTHING RETURNING event_id",
            params,
        )
        return cursor.fetchall()


def _insert(envelope: Envelope, events: list[CleanEvent]) -> set[uuid.UUID]:
    """Store the events, skipping those already stored; returns the ids it wrote.

    Outside a transaction the INSERT is one round trip that commits itself. A connection
    that died since its last use (Postgres restarted) gets one fresh try here instead of a
    health-check query before every batch: the conflict rule makes the second try safe,
    even if the first was committed before its answer was lost.
    """
    if not events:
        return set()
    insert = _insert_postgres if connection.vendor == "postgresql" else _insert_portable
    try:
        written = insert(envelope, events)
    except (OperationalError, InterfaceError):
        if connection.in_atomic_block:
            raise
        connection.close()
        written = insert(envelope, events)
    return {value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)) for (value,) in written}


# Column lengths of the rejected-event log: every text is cut to fit after masking and escaping,
# which both lengthen it (a NUL is written out as six characters), so one odd event cannot fail
# the insert and with it the batch's good events.
REJECTED_LENGTHS = {
    field.name: field.max_length for field in RejectedEvent._meta.concrete_fields if isinstance(field, CharField)
}


def _reject(
    result: IngestResult, *, index: int, raw: Any, error: Rejected, source: str, visitor_id: uuid.UUID
) -> RejectedEvent:
    event_id = raw.get("event_id") if isinstance(raw, dict) else None
    result.rejected.append(
        {
            "index": index,
            "event_id": str(event_id)[:64] if event_id else None,
            "reason": error.reason,
            "detail": error.detail,
        }
    )
    name = raw.get("name") if isinstance(raw, dict) else None
    texts = {
        "reason": error.reason,
        "detail": masked_text(error.detail),
        "source": source,
        "name": masked_text(str(name)[: REJECTED_LENGTHS["name"]]) if name is not None else "",
    }
    return RejectedEvent(
        visitor_id=visitor_id,
        payload=payload_excerpt(raw),
        **{key: text[: REJECTED_LENGTHS[key]] for key, text in texts.items()},
    )


@dataclass
class _Checked:
    """A batch after validation: the events to store (each id once), and what was refused."""

    clean: list[CleanEvent] = field(default_factory=list)
    rejects: list[RejectedEvent] = field(default_factory=list)


def _validate(
    events: list[Any], *, result: IngestResult, received_at: datetime, skew: timedelta, envelope: Envelope
) -> _Checked:
    checked, seen = _Checked(), set()
    for index, raw in enumerate(events):
        try:
            event = event_validate(raw, received_at=received_at, skew=skew, source=envelope.source)
        except Rejected as error:
            checked.rejects.append(
                _reject(
                    result, index=index, raw=raw, error=error, source=envelope.source, visitor_id=envelope.visitor_id
                )
            )
            continue
        if event.event_id in seen:
            result.duplicates += 1  # the same event twice in one batch
            continue
        seen.add(event.event_id)
        checked.clean.append(event)
    return checked


def _store(checked: _Checked, *, envelope: Envelope) -> set[uuid.UUID]:
    """Commit the events not stored before and the refused ones; returns the ids newly stored."""
    if not checked.rejects:
        return _insert(envelope, checked.clean)
    with transaction.atomic():
        written = _insert(envelope, checked.clean)
        RejectedEvent.objects.bulk_create(checked.rejects)
    return written


def _notify(batch: StoredBatch) -> None:
    """Run every hook on the committed batch and send what they queued in one round trip."""
    try:
        redis = RedisBatch()
        hooks_batch_stored(batch, redis=redis)
        redis.execute()
    except (RedisError, OSError):
        # The events are stored; what the hooks keep in Redis is rebuilt from the record.
        logger.warning("ingest hooks' Redis commands not sent", exc_info=True)
    except ImproperlyConfigured:
        # Stored all the same: the collector must not answer 500 for events it keeps.
        # manage.py check names the broken entry (tracking.E001).
        logger.exception("ingest hooks not run: TRACKING_HOOKS is wrong")


def event_ingest(
    *,
    events: list[Any],
    visitor_id: uuid.UUID,
    user_id: int | None = None,
    session_id: uuid.UUID | None = None,
    source: str = Source.WEB,
    sent_at: Any = None,
    received_at: datetime | None = None,
    read_ahead: Mapping[type, Any] | None = None,
) -> IngestResult:
    """Validate a batch, store the good events once (the bad with their reason), then tell the
    hooks of TRACKING_HOOKS (tracking/hooks.py).

    Returns only after the rows are committed: an acknowledged event is durable. The hooks
    run after the commit and never fail the ingest; read_ahead is what they read before it
    (tracking.hooks.ReadAhead), when the caller made a round trip to read it.
    """
    received_at = received_at or timezone.now()
    envelope = Envelope(
        source=source, visitor_id=visitor_id, user_id=user_id, session_id=session_id, received_at=received_at
    )
    result = IngestResult()
    skew = clock_skew(sent_at=sent_at, received_at=received_at)
    checked = _validate(events, result=result, received_at=received_at, skew=skew, envelope=envelope)
    written = _store(checked, envelope=envelope)
    result.accepted = len(written)
    result.duplicates += len(checked.clean) - len(written)
    result.stored = [
        TrackedEvent(
            event_id=event.event_id,
            name=event.name,
            visitor_id=visitor_id,
            user_id=user_id,
            session_id=session_id,
            product_id=event.product_id,
            category_id=event.category_id,
            properties=event.properties,
            occurred_at=event.occurred_at,
        )
        for event in checked.clean
        if event.event_id in written
    ]
    _notify(
        StoredBatch(
            events=tuple(result.stored),
            source=source,
            visitor_id=visitor_id,
            user_id=user_id,
            session_id=session_id,
            received_at=received_at,
            duplicates=result.duplicates,
            rejected=len(result.rejected),
            read_ahead=read_ahead or {},
        )
    )
    if result.rejected:
        logger.info("ingest rejected %s", dict(Counter(item["reason"] for item in result.rejected)))
    return result


@transaction.atomic
def identity_link(*, visitor_id: uuid.UUID, user_id: int) -> int:
    """Tie a visitor to a user: their anonymous events become the user's, and the hooks
    (profile merge) run once the change is committed. Returns how many events moved."""
    VisitorLink.objects.update_or_create(visitor_id=visitor_id, defaults={"user_id": user_id})
    moved = Event.objects.filter(visitor_id=visitor_id, user_id__isnull=True).update(user_id=user_id)

    transaction.on_commit(lambda: hooks_visitor_identified(visitor_id=visitor_id, user_id=user_id))
    return moved


def _subject_events(*, user_id: int | None, visitor_id: uuid.UUID | None):
    """All of an account's events, and only the anonymous ones (user_id null) of a visitor id: a
    visitor id once tied to an account still carries that account's events, and those are the
    account's alone."""
    from django.db.models import Q

    query = Q()
    if user_id is not None:
        query |= Q(user_id=user_id)
    if visitor_id is not None:
        query |= Q(visitor_id=visitor_id, user_id__isnull=True)
    # Imported datasets are other shops' customers, nobody's here (as in the rebuild and retention).
    return Event.objects.filter(query).exclude(source=Source.IMPORT) if query else Event.objects.none()


def events_export(*, user_id: int | None, visitor_id: uuid.UUID | None) -> list[dict]:
    """Every event of an account, and the anonymous events of a visitor id (see _subject_events)."""
    rows = _subject_events(user_id=user_id, visitor_id=visitor_id).order_by("occurred_at", "id")
    return [
        {
            "event_id": str(row.event_id),
            "name": row.name,
            "source": row.source,
            "visitor_id": str(row.visitor_id),
            "session_id": str(row.session_id) if row.session_id else None,
            "product_id": row.product_id,
            "category_id": row.category_id,
            "properties": row.properties,
            "occurred_at": row.occurred_at.isoformat(),
        }
        for row in rows.iterator(chunk_size=2000)
    ] + rejected_events_export(visitor_ids=_rejected_subjects(user_id=user_id, visitor_id=visitor_id))


@transaction.atomic
def events_erase(*, user_id: int | None, visitor_id: uuid.UUID | None) -> int:
    """Delete the events events_export gives, and the account's visitor links; returns how many events."""
    visitors = _rejected_subjects(user_id=user_id, visitor_id=visitor_id)
    if user_id is not None:
        VisitorLink.objects.filter(user_id=user_id).delete()
    deleted, _ = _subject_events(user_id=user_id, visitor_id=visitor_id).delete()
    deleted += rejected_events_erase(visitor_ids=visitors)
    return deleted


def _rejected_subjects(*, user_id: int | None, visitor_id: uuid.UUID | None) -> list[uuid.UUID]:
    """Visitor ids whose refused events belong to this subject. A refused event carries no
    account, so the rule of _subject_events holds by visitor: an account has its linked visitor
    ids; a visitor id linked to an account is that account's alone."""
    linked = dict(VisitorLink.objects.filter(visitor_id=visitor_id).values_list("visitor_id", "user_id"))
    visitors = visitor_ids_of(user_id=user_id) if user_id is not None else []
    if visitor_id is not None and linked.get(visitor_id, user_id) == user_id and visitor_id not in visitors:
        visitors.append(visitor_id)
    return visitors


def rejected_events_export(*, visitor_ids: list[uuid.UUID]) -> list[dict]:
    """The events refused from these visitors, as the rejected-event log keeps them (masked)."""
    rows = RejectedEvent.objects.filter(visitor_id__in=visitor_ids).order_by("received_at", "id")
    return [
        {
            "rejected": True,
            "reason": row.reason,
            "detail": row.detail,
            "name": row.name,
            "source": row.source,
            "visitor_id": str(row.visitor_id),
            "received_at": row.received_at.isoformat(),
            "payload": row.payload,
        }
        for row in rows.iterator(chunk_size=2000)
    ]


def rejected_events_erase(*, visitor_ids: list[uuid.UUID]) -> int:
    """Delete the events refused from these visitors; returns how many."""
    deleted, _ = RejectedEvent.objects.filter(visitor_id__in=visitor_ids).delete()
    return deleted


def visitor_ids_of(*, user_id: int) -> list[uuid.UUID]:
    return list(VisitorLink.objects.filter(user_id=user_id).values_list("visitor_id", flat=True))


def events_purge(*, older_than_days: int, rejected_older_than_days: int) -> dict:
    """Retention of shoppers' events: drop whole month partitions past the cutoff, then delete
    stragglers row by row (the default partition, SQLite); and of rejected events, kept for
    a shorter time of their own.

    Imported datasets are not shoppers' data and stay until deleted on purpose.
    """
    from .partitions import partitions_drop_before

    now = timezone.now()
    cutoff = now - timedelta(days=older_than_days)
    dropped = partitions_drop_before(cutoff=cutoff, keep_source=Source.IMPORT)
    deleted, _ = Event.objects.filter(client_ts__lt=cutoff).exclude(source=Source.IMPORT).delete()
    # A key may go once its event is gone, and no sooner: the collector accepts any timestamp
    # within MAX_AGE of receipt, so a key dropped while its event is kept would let the same id
    # in again under a fresh time. An event's client time is at most MAX_AGE + MAX_FUTURE after
    # its receipt (a fast clock's skew correction), so keys received that much before the
    # cutoff belong to events already deleted. Erasure leaves keys (a bare random id and a
    # time, nothing of the person), so a tracker's queued retry cannot bring an erased event back.
    key_cutoff = cutoff - MAX_AGE - MAX_FUTURE
    keys, _ = EventKey.objects.filter(received_at__lt=key_cutoff).delete()
    rejected_cutoff = now - timedelta(days=rejected_older_than_days)
    rejected, _ = RejectedEvent.objects.filter(received_at__lt=rejected_cutoff).delete()
    return {
        "partitions_dropped": dropped,
        "events_deleted": deleted,
        "keys_deleted": keys,
        "rejected_deleted": rejected,
    }
