"""Celery tasks of tracking; each calls a service and stays thin."""

from celery import shared_task
from django.conf import settings

from . import partitions, services
from .analytics import quality, volume


@shared_task(time_limit=300, soft_time_limit=240)
def partitions_prepare() -> list[str]:
    """Create the coming months' partitions before their first event arrives."""
    return partitions.partitions_ensure_ahead(months=2)


@shared_task(time_limit=3600, soft_time_limit=3500)
def events_purge_expired() -> dict:
    return services.events_purge(
        older_than_days=settings.TRACKING_RETENTION_DAYS,
        rejected_older_than_days=settings.TRACKING_REJECTED_RETENTION_DAYS,
    )


@shared_task(time_limit=600, soft_time_limit=540)
def volume_check() -> dict:
    """Hourly: copy the ingest counters from Redis, then flag event volumes that dropped or spiked."""
    flushed = quality.ingest_stats_flush()
    alerts = volume.volume_alerts_check()
    return {"ingest_stats": flushed, "alerts": [str(alert) for alert in alerts]}
