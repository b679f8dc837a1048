"""Celery tasks of merchandising: absence timers fired every few seconds."""

import time

from celery import shared_task

from .timers import FIRE_LIMIT, timers_fire

# A round that took a full FIRE_LIMIT has more waiting: go on at once rather than at the next
# beat, for up to this long (within the task's time limit).
CATCH_UP_SECONDS = 40


@shared_task(soft_time_limit=50, time_limit=60)
def rule_timers_fire_task() -> dict:
    began, fired, already, worst = time.monotonic(), 0, 0, None
    while True:
        result = timers_fire()
        fired, already = fired + result.fired, already + result.already
        if result.lateness_ms:
            worst = max(worst or 0, max(result.lateness_ms))
        taken = result.fired + result.already + result.dropped
        if taken < FIRE_LIMIT or time.monotonic() - began > CATCH_UP_SECONDS:
            return {"fired": fired, "already": already, "worst_ms": worst}
