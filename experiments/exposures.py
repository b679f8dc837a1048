"""Exposure: the record that a visitor was shown a variant, written when a page renders it; and
the placements an account keeps from its visitor's first exposures (see assignment.py)."""

import logging
import uuid
from collections.abc import Iterable
from typing import NamedTuple

from django.db import DatabaseError
from django.utils import timezone
from redis.exceptions import RedisError

from shop.keyspace import RedisBatch, exposed_key, redis_client, sticky_key, utc_day
from tracking.hooks import StoredBatch
from tracking.models import Event
from tracking.owners import owner_key
from tracking.payloads import derived_event_id, raw_event
from tracking.registry import EventName, Source
from tracking.services import event_ingest

logger = logging.getLogger(__name__)

NAMESPACE = uuid.UUID("0c8f6f1e-7f1e-4a43-9d7e-5a0e3c7b1d21")
# An exposure mark outlives its day by one, for pages rendered across midnight in another zone.
EXPOSED_TTL = 2 * 86_400
# A kept placement lives as long as the visitor cookie it came from (VISITOR_MAX_AGE) and a little.
STICKY_TTL = 400 * 86_400


class Shown(NamedTuple):
    """A variant a page rendered: of which experiment (an id, or HOLDOUT), in which slot (None for
    the programme's holdout), placed by which policy with which chance."""

    experiment: str
    variant: str
    slot: str | None
    policy: str
    propensity: float

    @property
    def mark(self) -> str:
        """What a day's exposure is counted once by: the experiment, and under a bandit, whose
        arm may change within the day, the arm too (each arm shown is an exposure of its own)."""
        return f"{self.experiment}/{self.variant}" if self.policy == "bandit" else self.experiment


def exposure_event_id(*, mark: str, owner: str, day: int) -> uuid.UUID:
    """The one event id of an owner's exposure to an experiment (Shown.mark) on a day, in the
    random (version 4) form the ingest accepts: a second recording of it is a duplicate."""
    return derived_event_id(NAMESPACE, f"{mark}/{owner}/{day}")


def exposures_record(*, visitor_id: uuid.UUID, user_id: int | None, shown: Iterable[Shown]) -> int:
    """Record that this visitor was shown these variants today, through the ingest; the number
    newly stored. Never raises: a page must render when the record cannot be written."""
    owner = owner_key(user_id=user_id, visitor_id=visitor_id)
    day = utc_day(timezone.now())
    events = []
    for item in shown:
        props = {
            "experiment": item.experiment,
            "variant": item.variant,
            "day": day,
            "policy": item.policy,
            "propensity": round(item.propensity, 6),
            "mark": item.mark,
        }
        if item.slot:
            props["slot"] = item.slot
        event_id = exposure_event_id(mark=item.mark, owner=owner, day=day)
        events.append(raw_event(EventName.EXPERIMENT_EXPOSURE, event_id=event_id, props=props))
    if not events:
        return 0
    try:
        result = event_ingest(events=events, visitor_id=visitor_id, user_id=user_id, source=Source.SERVER)
    except DatabaseError:
        logger.exception("could not record experiment exposures")
        return 0
    if result.rejected:
        logger.error("experiment exposures rejected: %s", result.rejected)
    if result.duplicates:
        # Stored before, but the day's marks are gone (Redis flushed): mark them again so the
        # next pages do not ask the database once more.
        try:
            pipe = redis_client().pipeline(transaction=False)
            _mark(pipe, owner=owner, day=day, marks=[e["props"]["mark"] for e in events])
            pipe.execute()
        except RedisError:
            logger.warning("could not mark experiment exposures", exc_info=True)
    return result.accepted


def _mark(pipe, *, owner: str, day: int, marks: list[str]) -> None:
    pipe.sadd(exposed_key(owner, day), *marks)
    pipe.expire(exposed_key(owner, day), EXPOSED_TTL)


def _event_mark(properties: dict) -> str:
    # exposures recorded before bandits carry no mark: theirs was the experiment
    return properties.get("mark") or properties["experiment"]


def sticky_placements(*, user_id: int) -> dict[str, str]:
    """Each experiment's placement of the account's first exposure ("policy:variant"), from the
    record: after a login links them, a visitor's anonymous exposures are the account's too."""
    first: dict[str, str] = {}
    rows = (
        Event.objects.filter(name=EventName.EXPERIMENT_EXPOSURE, user_id=user_id)
        .order_by("occurred_at", "id")
        .values_list("properties", flat=True)
    )
    for properties in rows:
        policy = properties.get("policy") or "split"
        variant = "" if policy == "bandit" else properties["variant"]
        first.setdefault(properties["experiment"], f"{policy}:{variant}")
    return first


class ExposureHook:
    """After ingest: a stored exposure marks the owner exposed for its day, which pages read with
    the profile. The record is the truth; a lost mark costs one duplicate insert. At login: the
    account keeps the placements of its first exposures, whatever its own hash says."""

    def batch_stored(self, batch: StoredBatch, *, redis: RedisBatch) -> None:
        marks: dict[tuple[str, int], list[str]] = {}
        for event in batch.events:
            if event.name == EventName.EXPERIMENT_EXPOSURE:
                owner = owner_key(user_id=event.user_id, visitor_id=event.visitor_id)
                marks.setdefault((owner, event.properties["day"]), []).append(_event_mark(event.properties))
        for (owner, day), owner_marks in marks.items():
            _mark(redis.pipe, owner=owner, day=day, marks=owner_marks)

    def visitor_identified(self, *, visitor_id: uuid.UUID, user_id: int) -> None:
        placements = sticky_placements(user_id=user_id)
        if placements:
            key = sticky_key(owner_key(user_id=user_id, visitor_id=None))
            pipe = redis_client().pipeline(transaction=False)
            pipe.hset(key, mapping=placements)
            pipe.expire(key, STICKY_TTL)
            pipe.execute()
