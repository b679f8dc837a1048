"""Celery tasks of experiments: bandits' shares updated from the record on beat's cadence."""

from celery import shared_task

from .services import bandits_update


@shared_task(soft_time_limit=60 * 4, time_limit=60 * 5)
def bandits_update_task() -> int:
    return bandits_update()
