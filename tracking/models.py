"""The event record (append-only events, rejected events, identity links) and the analytics kept beside it."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from .registry import BOOL, INT, LIST, NUM, REGISTRY, EventName, Source


class Event(models.Model):
    """One shopper action. On Postgres the table is partitioned by month of client_ts.

    client_ts is the time as the client sent it, so a retried event lands in the same
    partition; the collector stores an id once whatever its time (see EventKey), imports by
    (event_id, client_ts). occurred_at is that time corrected for the client's clock skew,
    and is what analyses use.
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
            # Most events are anonymous: a partial index skips them, which the ingest feels.
            models.Index(
                fields=["user_id", "occurred_at"],
                name="event_user_timeline",
                condition=models.Q(user_id__isnull=False),
            ),
            models.Index(fields=["product_id", "name", "occurred_at"], name="event_product_counts"),
            models.Index(fields=["name", "occurred_at"], name="event_name_volume"),
            # Admin's date drill-down and time-range reports over every event name.
            models.Index(fields=["occurred_at"], name="event_occurred"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.event_id}"


class EventKey(models.Model):
    """The id of every event the collector stored, once: what makes an event id unique.

    Postgres allows no unique index on a partitioned table without its partition key, so
    Event can only be unique on (event_id, client_ts), and the same id sent again with another
    time would be stored twice. This small, unpartitioned table is filled in the same
    statement as the events (see tracking.services). Imported datasets write no keys: their
    ids are name-based (uuid5), which the collector never accepts, so they cannot meet.
    """

    event_id = models.UUIDField(primary_key=True)
    received_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return str(self.event_id)


class RejectedEvent(models.Model):
    """An event the collector refused, kept with its reason so nothing vanishes unseen."""

    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    reason = models.CharField(max_length=64, db_index=True)
    detail = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.WEB)
    name = models.CharField(max_length=64, blank=True)
    # Whose event it was, so a person's export and erasure find their rejected events too.
    visitor_id = models.UUIDField(null=True, blank=True, db_index=True)
    # The raw event with personal data masked, cut to a bounded size; shown escaped in admin.
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


# Longer windows stop meaning "one shopping trip" and make every visitor convert eventually.
MAX_FUNNEL_WINDOW = timedelta(days=90)


class Funnel(models.Model):
    """A merchandiser's ordered path of events (view, add to cart, checkout, buy) to measure."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    window = models.DurationField(
        default=timedelta(days=1),
        help_text="How long after the first step every later step must happen: 00:30:00 is 30 minutes, "
        "1 00:00:00 is a day.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.window is not None and not timedelta(0) < self.window <= MAX_FUNNEL_WINDOW:
            limit = MAX_FUNNEL_WINDOW.days
            raise ValidationError({"window": f"The window must be more than zero and at most {limit} days."})


class FunnelStep(models.Model):
    """One step of a funnel: an event name, optionally narrowed to a product, category or property value."""

    funnel = models.ForeignKey(Funnel, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(default=1)
    event_name = models.CharField(max_length=32, choices=EventName.choices)
    product_id = models.BigIntegerField(null=True, blank=True, help_text="Only events about this product.")
    category_id = models.BigIntegerField(null=True, blank=True, help_text="Only events about this category.")
    property_key = models.CharField(
        max_length=40, blank=True, help_text="Only events whose property has the value below, e.g. page_type."
    )
    property_value = models.CharField(max_length=200, blank=True, help_text="e.g. product")

    class Meta:
        # No unique (funnel, position): swapping two steps in the admin would trip a non-deferred
        # constraint mid-save; the admin formset checks positions are distinct instead.
        ordering = ["funnel", "position", "id"]

    def __str__(self) -> str:
        return f"{self.position}. {self.label}"

    @property
    def label(self) -> str:
        """The step as a merchandiser reads it: 'Product viewed (page_type = product)'."""
        parts = []
        if self.product_id:
            parts.append(f"product {self.product_id}")
        if self.category_id:
            parts.append(f"category {self.category_id}")
        if self.property_key:
            parts.append(f"{self.property_key} = {self.property_value}")
        name = EventName(self.event_name).label if self.event_name in EventName.values else self.event_name
        return f"{name} ({', '.join(parts)})" if parts else name

    def clean(self) -> None:
        if bool(self.property_key) != bool(self.property_value):
            raise ValidationError("Give both a property name and a value, or neither.")
        if self.property_key and self.event_name in REGISTRY:
            spec = REGISTRY[self.event_name]
            fields = spec.fields
            kind = fields.get(self.property_key)
            if kind is None or kind == LIST:
                known = ", ".join(sorted(key for key, value in fields.items() if value != LIST))
                raise ValidationError({"property_key": f"{self.event_name} has no such property; it has {known}."})
            try:
                property_typed(kind, self.property_value)
            except ValueError:
                raise ValidationError({"property_value": f"{self.property_key} holds a {kind} value."}) from None


def property_typed(kind: str, value: str):
    """A property filter's text turned into the JSON type the registry stores, so equality matches."""
    if kind == INT:
        return int(value)
    if kind == NUM:
        return float(value)
    if kind == BOOL:
        if value.lower() not in {"true", "false", "1", "0"}:
            raise ValueError(value)
        return value.lower() in {"true", "1"}
    return value


class VolumeAlert(models.Model):
    """An hour in which an event's volume fell or jumped far from its usual level."""

    class Kind(models.TextChoices):
        DROP = "drop", "Drop"
        SPIKE = "spike", "Spike"

    hour = models.DateTimeField(help_text="Start of the hour (UTC) that was checked.")
    name = models.CharField(max_length=32, choices=EventName.choices)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    observed = models.PositiveIntegerField()
    expected = models.FloatField(help_text="Median of the same hour over the previous seven days.")
    score = models.FloatField(help_text="How many robust standard deviations the hour is from expected.")
    acknowledged = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-hour", "name"]
        constraints = [models.UniqueConstraint(fields=["hour", "name"], name="volume_alert_once")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.name} at {self.hour:%Y-%m-%d %H:00}"


class IngestStat(models.Model):
    """Events received, stored, duplicated and rejected per hour and source, flushed from Redis counters."""

    hour = models.DateTimeField()
    source = models.CharField(max_length=8, choices=Source.choices)
    accepted = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-hour", "source"]
        constraints = [models.UniqueConstraint(fields=["hour", "source"], name="ingest_stat_once")]

    def __str__(self) -> str:
        return f"{self.source} {self.hour:%Y-%m-%d %H:00}"

    @property
    def received(self) -> int:
        return self.accepted + self.duplicates + self.rejected
