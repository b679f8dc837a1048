"""Celery tasks of personalization: one training task, scheduled per model by beat, and the erasure clean-up."""

from celery import shared_task

from .erasure import erasures_finish
from .training import TRAINING_TIME_LIMIT, model_train, models_retire


@shared_task(time_limit=TRAINING_TIME_LIMIT, soft_time_limit=TRAINING_TIME_LIMIT - 100, acks_late=True)
def model_retrain(name: str) -> int:
    """Train one model and switch serving to it; returns the new version's id."""
    version = model_train(name=name)
    models_retire(keep=3)
    return version.pk


@shared_task(time_limit=TRAINING_TIME_LIMIT, soft_time_limit=TRAINING_TIME_LIMIT - 100, acks_late=True)
def erasures_complete() -> dict[str, int]:
    """Finish recorded erasures (Redis keys, model versions); sent after each erase and run by beat."""
    return erasures_finish()
