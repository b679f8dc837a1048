"""Forgetting an erased person outside Postgres (Redis keys, stored model versions), retried until done."""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from redis.exceptions import RedisError

from shop.keyspace import redis_client

from .models import PendingErasure
from .training import model_versions_forget, trainings_running

logger = logging.getLogger(__name__)

# Keys per DEL: one round trip for a person's profile and sessions, bounded for a long backlog.
REDIS_DELETE_BATCH = 500
# Erasures the request itself retries after its own, so one page never waits on a long backlog.
REQUEST_BACKLOG = 100
# How long a finished erasure is remembered: a training that read the events before the erase
# leaves its owners out (training._without_erased). Longer than any training runs.
ERASURE_MEMORY = timedelta(days=1)


def erasures_record(*, keys_by_owner: dict[str, list[str]]) -> None:
    """Record, in the caller's (the erase's) transaction, which Redis keys of each owner are still to
    delete and that stored model versions are still to be cleaned of them. Once committed, Redis is
    tried at once and a worker cleans the models; beat retries both until they are done."""
    if not keys_by_owner:
        return
    now = timezone.now()
    with transaction.atomic():
        for owner, keys in keys_by_owner.items():
            erasure, created = PendingErasure.objects.select_for_update().get_or_create(
                owner=owner, defaults={"redis_keys": list(keys), "requested_at": now}
            )
            if not created:
                erasure.redis_keys = sorted({*erasure.redis_keys, *keys})
                erasure.models_pending, erasure.requested_at = True, now
                erasure.save(update_fields=["redis_keys", "models_pending", "requested_at"])
        transaction.on_commit(_after_erase)


def _after_erase() -> None:
    erasures_forget_redis(limit=REQUEST_BACKLOG)
    from .tasks import erasures_complete

    try:
        erasures_complete.delay()
    except Exception:
        # The broker is Redis too; beat runs the same task on its schedule.
        logger.warning("could not queue the erasure clean-up; the beat schedule will run it", exc_info=True)


def erasures_forget_redis(*, limit: int | None = None) -> int:
    """Delete the Redis keys of recorded erasures, oldest first; returns how many erasures were done.
    Redis failing leaves every record as it was, counted, for the next try."""
    with transaction.atomic():
        pending = list(
            PendingErasure.objects.select_for_update(skip_locked=True)
            .exclude(redis_keys=[])
            .order_by("requested_at")[:limit]
        )
        if not pending:
            return 0
        keys = [key for erasure in pending for key in erasure.redis_keys]
        done = [erasure.pk for erasure in pending]
        try:
            client = redis_client()
            for start in range(0, len(keys), REDIS_DELETE_BATCH):
                client.delete(*keys[start : start + REDIS_DELETE_BATCH])
        except RedisError as error:
            logger.warning("Redis did not answer; %d erasures keep their keys for the next try", len(pending))
            PendingErasure.objects.filter(pk__in=done).update(attempts=F("attempts") + 1, last_error=str(error)[:300])
            return 0
        PendingErasure.objects.filter(pk__in=done).update(redis_keys=[])
    return len(done)


def erasures_finish() -> dict[str, int]:
    """Finish every recorded erasure: Redis keys first, then stored model versions; forget the
    records of erasures done more than ERASURE_MEMORY ago."""
    forgotten = erasures_forget_redis()
    # Taken before cleaning: a training under way may store a version holding someone after this
    # pass has looked, so their erasure stays open for the next pass.
    busy, started = trainings_running(), timezone.now()
    owners = set(PendingErasure.objects.filter(models_pending=True).values_list("owner", flat=True))
    versions = model_versions_forget(owners=owners) if owners else 0
    if owners and not busy:
        # An owner erased again during this pass stays open: what it looked at may predate that erase.
        PendingErasure.objects.filter(owner__in=owners, requested_at__lte=started).update(models_pending=False)
    cutoff = timezone.now() - ERASURE_MEMORY
    expired, _ = PendingErasure.objects.filter(redis_keys=[], models_pending=False, requested_at__lt=cutoff).delete()
    return {"redis": forgotten, "versions": versions, "owners": len(owners), "expired": expired}
