"""App config of tracking; connects the identity link to login."""

from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "tracking"
    verbose_name = "Tracking"

    def ready(self) -> None:
        from . import signals  # noqa: F401
