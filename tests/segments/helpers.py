"""What the segment tests share: ingesting at a chosen moment, and asking both drivers."""

import uuid
from datetime import datetime

import time_machine

from segments.evaluator import MINUTE_MS, epoch_ms
from segments.services import catalogue_forget, catalogue_load, owner_segments, owners_facts, segments_due_fire
from tests.factories.tracking import RawEventFactory
from tracking.services import IngestResult, event_ingest

SERVER_ONLY = {"purchase", "login", "sign_up"}


def ingest(
    visitor: uuid.UUID,
    name: str,
    *,
    at: datetime,
    session: uuid.UUID | None = None,
    user_id: int | None = None,
    **fields,
) -> IngestResult:
    """One event stored through the collector's ingest, at a moment the test controls."""
    with time_machine.travel(at, tick=False):
        raw = RawEventFactory(name=name, props=fields.pop("props", {}), **fields)
        return event_ingest(
            events=[raw],
            visitor_id=visitor,
            user_id=user_id,
            session_id=session,
            source="server" if name in SERVER_ONLY else "web",
        )


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
