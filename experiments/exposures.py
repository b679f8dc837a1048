"""Exposure: the record that a visitor was shown a variant, written when a page renders it."""

import logging
import uuid
from collections.abc import Iterable

from django.db import DatabaseError
from django.utils import timezone
from redis.exceptions import RedisError

from shop.keyspace import RedisBatch, exposed_key, redis_client, utc_day
from tracking.hooks import StoredBatch
from tracking.owners import owner_key
from tracking.payloads import derived_event_id, raw_event
from tracking.registry import EventName, Source
from tracking.services import event_ingest

logger = logging.getLogger(__name__)

NAMESPACE = uuid.UUID("0c8f6f1e-7f1e-4a43-9d7e-5a0e3c7b1d21")
# An exposure mark outlives its day by one, for pages rendered across midnight in another zone.
EXPOSED_TTL = 2 * 86_400


def exposure_event_id(*, experiment: str, owner: str, day: int) -> uuid.UUID:
    """The one event id of an owner's exposure to an experiment on a day, in the random (version
    4) form the ingest accepts: a second recording of the same exposure is a duplicate."""
    return derived_event_id(NAMESPACE, f"{experiment}/{owner}/{day}")


def exposures_record(
    *, visitor_id: uuid.UUID, user_id: int | None, shown: Iterable[tuple[str, str, str | None]]
) -> int:
    """Record that this visitor was shown (experiment, variant, slot) today, through the ingest;
    the number newly stored. Never raises: a page must render when the record cannot be written."""
    owner = owner_key(user_id=user_id, visitor_id=visitor_id)
    day = utc_day(timezone.now())
    events = []
    for experiment, variant, slot in shown:
        props = {"experiment": experiment, "variant": variant, "day": day}
        if slot:
            props["slot"] = slot
        event_id = exposure_event_id(experiment=experiment, owner=owner, day=day)
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
            _mark(pipe, owner=owner, day=day, experiments=[e["props"]["experiment"] for e in events])
            pipe.execute()
        except RedisError:
            logger.warning("could not mark experiment exposures", exc_info=True)
    return result.accepted


def _mark(pipe, *, owner: str, day: int, experiments: list[str]) -> None:
    pipe.sadd(exposed_key(owner, day), *experiments)
    pipe.expire(exposed_key(owner, day), EXPOSED_TTL)


class ExposureHook:
    """After ingest: a stored exposure marks the owner exposed for its day, which pages read with
    the profile. The record is the truth; a lost mark costs one duplicate insert."""

    def batch_stored(self, batch: StoredBatch, *, redis: RedisBatch) -> None:
        marks: dict[tuple[str, int], list[str]] = {}
        for event in batch.events:
            if event.name == EventName.EXPERIMENT_EXPOSURE:
                owner = owner_key(user_id=event.user_id, visitor_id=event.visitor_id)
                marks.setdefault((owner, event.properties["day"]), []).append(event.properties["experiment"])
        for (owner, day), experiments in marks.items():
            _mark(redis.pipe, owner=owner, day=day, experiments=experiments)
