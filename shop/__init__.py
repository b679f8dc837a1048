"""The shop's Django project package; the Celery app loads with it so tasks bind to it."""

from .celery import app as celery_app

__all__ = ("celery_app",)
