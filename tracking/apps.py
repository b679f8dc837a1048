"""App config of tracking; connects the identity link to login and checks the hooks setting."""

from django.apps import AppConfig
from django.core import checks
from django.core.exceptions import ImproperlyConfigured


def hooks_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """TRACKING_HOOKS loads at deploy time (manage.py check, migrate), not at the first event."""
    from .hooks import hooks_loaded

    try:
        hooks_loaded()
    except ImproperlyConfigured as error:
        return [checks.Error(str(error), id="tracking.E001")]
    return []


class TrackingConfig(AppConfig):
    name = "tracking"
    verbose_name = "Tracking"

    def ready(self) -> None:
        from . import signals  # noqa: F401

        checks.register(hooks_check)
