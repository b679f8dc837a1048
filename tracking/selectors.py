"""Reads of the event record."""

import uuid
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db.models import Case, F, Q, UUIDField, When
from django.utils import timezone

from .models import Event
from .registry import Source
from .services import TrackedEvent


def _owner_filter(owners: set[str]) -> Q:
    query = Q(pk__in=[])
    for owner in owners:
        kind, _, ident = owner.partition(":")
        if kind == "u":
            query |= Q(user_id=int(ident))
        elif kind == "v":
            query |= Q(visitor_id=uuid.UUID(ident), user_id__isnull=True)
    return query


def events_for_rebuild(*, owners: set[str] | None, chunk: int) -> Iterator[list[TrackedEvent]]:
    """Events for rebuilding profiles, in chunks: one owner's after another's (a signed-in
    shopper's from every device, else one anonymous visitor's), each owner's in time order.
    Anonymous ones only while their profile would still be alive."""
    cutoff = timezone.now() - timedelta(days=settings.PROFILE_ANONYMOUS_TTL_DAYS)
    # Imported datasets are other shops' shoppers: they train and evaluate models, but no one
    # here browses as them, so they get no live profile.
    queryset = Event.objects.filter(Q(user_id__isnull=False) | Q(occurred_at__gte=cutoff)).exclude(source=Source.IMPORT)
    if owners is not None:
        queryset = queryset.filter(_owner_filter(owners))
    anonymous_visitor = Case(When(user_id__isnull=True, then=F("visitor_id")), output_field=UUIDField())
    ordered = queryset.order_by(F("user_id").asc(nulls_last=True), anonymous_visitor, "occurred_at", "id")
    rows = ordered.values_list(*TrackedEvent._fields)
    batch: list[TrackedEvent] = []
    for row in rows.iterator(chunk_size=chunk):
        batch.append(TrackedEvent._make(row))
        if len(batch) >= chunk:
            yield batch
            batch = []
    if batch:
        yield batch
