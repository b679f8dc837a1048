"""The segments app."""

from django.apps import AppConfig
from django.db import transaction
from django.db.models.signals import post_delete


def _segment_deleted(sender, instance, **kwargs) -> None:
    from .record import memberships_orphans_delete

    segment_id = instance.pk
    # robust: the delete stands if Redis is away; what is left behind names no segment.
    transaction.on_commit(lambda: memberships_orphans_delete(segment_id=segment_id), robust=True)


class SegmentsConfig(AppConfig):
    name = "segments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .models import Segment

        post_delete.connect(_segment_deleted, sender=Segment, dispatch_uid="segments.segment_deleted")
