"""What the segment tests share: ingesting at a chosen moment, and asking both drivers."""

import uuid
from datetime import datetime

import time_machine

from segments.evaluator import MINUTE_MS, epoch_ms
from segments.services import catalogue_forget, catalogue_load, owner_segments, owners_facts, segments_due_fire
from shop.keyspace import RedisBatch
from tests.factories.tracking import RawEventFactory
from tracking.hooks import hooks_read_ahead
from tracking.services import IngestResult, event_ingest

SERVER_ONLY = {"purchase", "login", "sign_up"}


def ingest(
    visitor: uuid.UUID,
    name: str,
    *,
    at: datetime,
    session: uuid.UUID | None = None,
    user_id: int | None = None,
    read_ahead: bool | None = None,
    **fields,
) -> IngestResult:
    """One event stored through the collector's ingest, at a moment the test controls: a
    browser's read ahead on the round trip before it is stored (as the collector does), a
    server's not, unless read_ahead says otherwise."""
    source = "server" if name in SERVER_ONLY else "web"
    with time_machine.travel(at, tick=False):
        raw = RawEventFactory(name=name, props=fields.pop("props", {}), **fields)
        ahead = {}
        if read_ahead if read_ahead is not None else source == "web":
            ahead = _read_ahead(visitor, user_id=user_id)
        return event_ingest(
            events=[raw], visitor_id=visitor, user_id=user_id, session_id=session, source=source, read_ahead=ahead
        )


def ingest_batch(visitor: uuid.UUID, events: list[dict], *, at: datetime) -> IngestResult:
    """A browser's batch of raw events, read ahead and stored as the collector does, at a moment."""
    with time_machine.travel(at, tick=False):
        return event_ingest(events=events, visitor_id=visitor, read_ahead=_read_ahead(visitor, user_id=None))


def _read_ahead(visitor: uuid.UUID, *, user_id: int | None) -> dict:
    early = RedisBatch()
    reading = hooks_read_ahead(visitor_id=visitor, user_id=user_id, redis=early)
    early.execute()
    return reading.taken()


def live(owner: str) -> set[str]:
    return owner_segments(owner=owner)


def backfilled(owner: str, *, at: datetime) -> set[str]:
    """The segments the backfill driver puts the owner in at that moment."""
    catalogue_forget()
    catalogue = catalogue_load()
    for history in owners_facts(catalogue=catalogue, owners=[owner]):
        assert history.owner == owner
        minute = epoch_ms(at) // MINUTE_MS
        return {slug for slug in catalogue.active if catalogue.judges[slug](history.facts, minute)}
    return set()


def fire_at(at: datetime):
    with time_machine.travel(at, tick=False):
        return segments_due_fire()
