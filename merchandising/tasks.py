"""Celery tasks of merchandising: absence timers fired every few seconds."""

from celery import shared_task

from .timers import timers_fire


@shared_task(soft_time_limit=50, time_limit=60)
def rule_timers_fire_task() -> dict:
    result = timers_fire()
    late = sorted(result.lateness_ms)
    return {"fired": result.fired, "already": result.already, "worst_ms": late[-1] if late else None}
