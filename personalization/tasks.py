"""Celery tasks of personalization: one training task, scheduled per model by beat."""

from celery import shared_task

from .training import model_train, models_retire


@shared_task(time_limit=3600, soft_time_limit=3500, acks_late=True)
def model_retrain(name: str) -> int:
    """Train one model and switch serving to it; returns the new version's id."""
    version = model_train(name=name)
    models_retire(keep=3)
    return version.pk
