"""The event record: append-only events, rejected events with their reason, identity links."""

import uuid

from django.conf import settings
from django.db import models

from .registry import EventName, Source


class Event(models.Model):
    """One shopper action. On Postgres the table is partitioned by month of client_ts.

    client_ts is the time as the client sent it, so a retried event lands in the same
    partition and (event_id, client_ts) dedups it; occurred_at is that time corrected
    for the client's clock skew, and is what analyses use.
    """

    id = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField()
    name = models.CharField(max_length=32, choices=EventName.choices)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.WEB)
    visitor_id = models.UUIDField()
    user_id = models.BigIntegerField(null=True, blank=True)
    session_id = models.UUIDField(null=True, blank=True)
    product_id = models.BigIntegerField(null=True, blank=True)
    category_id = models.BigIntegerField(null=True, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    client_ts = models.DateTimeField()
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event_id", "client_ts"], name="event_once")]
        indexes = [
            models.Index(fields=["visitor_id", "occurred_at"], name="event_visitor_timeline"),
            models.Index(fields=["user_id", "occurred_at"], name="event_user_timeline"),
            models.Index(fields=["product_id", "name", "occurred_at"], name="event_product_counts"),
            models.Index(fields=["name", "occurred_at"], name="event_name_volume"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.event_id}"


class RejectedEvent(models.Model):
    """An event the collector refused, kept with its reason so nothing vanishes unseen."""

    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    reason = models.CharField(max_length=64, db_index=True)
    detail = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.WEB)
    name = models.CharField(max_length=64, blank=True)
    # The raw event, cut to a bounded size; shown escaped in admin.
    payload = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.reason}: {self.name or '?'}"


class VisitorLink(models.Model):
    """Ties an anonymous visitor id to the user it turned out to be (login or sign-up)."""

    visitor_id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="visitor_links")
    linked_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.visitor_id} → {self.user_id}"
