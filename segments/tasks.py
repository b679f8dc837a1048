"""Celery tasks of segments: due-times and the journal every few seconds, the hourly sweep, the nightly re-cluster."""

import logging

from celery import shared_task

from .clustering import ClusteringError, clusters_recluster
from .record import journal_drain
from .services import segments_backfill, segments_due_fire

logger = logging.getLogger(__name__)


@shared_task(soft_time_limit=50, time_limit=60)
def segments_due_fire_task() -> dict:
    result = segments_due_fire()
    return {"owners": result.owners, "entered": result.entered, "exited": result.exited}


@shared_task(soft_time_limit=50, time_limit=60)
def segments_journal_drain_task() -> dict:
    return {"rows": journal_drain()}


@shared_task(soft_time_limit=60 * 25, time_limit=60 * 30)
def segments_sweep() -> dict:
    """The safety net: a full backfill; what it had to correct is logged and shown in admin."""
    result = segments_backfill()
    corrected = {slug: count for slug, count in result.corrections.items() if count}
    if corrected:
        logger.warning("segment sweep corrected memberships the live path missed: %s", corrected)
    return {"owners": result.owners, "corrections": corrected, "seconds": round(result.seconds, 2)}


@shared_task(soft_time_limit=60 * 25, time_limit=60 * 30)
def clusters_recluster_task(method: str = "kmeans", k: int | None = None) -> dict:
    try:
        result = clusters_recluster(method=method, k=k)
    except ClusteringError as error:
        # Too few shoppers yet (a new shop): the segments keep the last run's members.
        logger.warning("re-cluster skipped: %s", error)
        return {"error": str(error)}
    run = result.clustering
    return {"clustering": run.pk, "k": run.k, "silhouette": round(run.silhouette, 3), "seconds": round(run.seconds, 2)}
