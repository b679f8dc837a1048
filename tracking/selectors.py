"""Reads of the event record."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Case, Count, F, Q, UUIDField, When
from django.db.models.functions import TruncDate

from .hooks import TrackedEvent
from .models import Event
from .owners import Owner
from .registry import Source


def _owner_filter(owners: set[str]) -> Q:
    query = Q(pk__in=[])
    for owner in map(Owner.parse, owners):
        if owner.is_anonymous:
            query |= Q(visitor_id=owner.visitor_id, user_id__isnull=True)
        else:
            query |= Q(user_id=owner.user_id)
    return query


def events_for_rebuild(
    *, owners: set[str] | None, anonymous_since: datetime, chunk: int
) -> Iterator[list[TrackedEvent]]:
    """Events for rebuilding profiles, in chunks: one owner's after another's (a signed-in
    shopper's from every device, else one anonymous visitor's), each owner's in time order.
    Anonymous ones only since anonymous_since (older ones would feed a profile already expired)."""
    cutoff = anonymous_since
    # Imported datasets are other shops' shoppers: they train and evaluate models, but no one
    # here browses as them, so they get no live profile.
    queryset = Event.objects.filter(Q(user_id__isnull=False) | Q(occurred_at__gte=cutoff)).exclude(source=Source.IMPORT)
    if owners is not None:
        queryset = queryset.filter(_owner_filter(owners))
    return _by_owner(queryset, chunk=chunk)


def _by_owner(queryset, *, chunk: int) -> Iterator[list[TrackedEvent]]:
    """Events in chunks, one owner's after another's, each owner's in time order."""
    anonymous_visitor = Case(When(user_id__isnull=True, then=F("visitor_id")), output_field=UUIDField())
    ordered = queryset.order_by(F("user_id").asc(nulls_last=True), anonymous_visitor, "occurred_at", "id")
    batch: list[TrackedEvent] = []
    for row in ordered.values_list(*TrackedEvent._fields).iterator(chunk_size=chunk):
        batch.append(TrackedEvent._make(row))
        if len(batch) >= chunk:
            yield batch
            batch = []
    if batch:
        yield batch


def events_between(*, start: datetime, end: datetime, names: set[str], chunk: int) -> Iterator[list[TrackedEvent]]:
    """Events of these names that occurred in [start, end), in chunks: one owner's after another's,
    each owner's in time order (what a replay over recorded traffic walks)."""
    queryset = Event.objects.filter(occurred_at__gte=start, occurred_at__lt=end, name__in=names).exclude(
        source=Source.IMPORT
    )
    return _by_owner(queryset, chunk=chunk)


@dataclass(frozen=True)
class Traffic:
    """Visitors (distinct visitor ids) and events of the shop's own traffic since two moments, and
    visitors_by_day: (day, visitors) of each day of the week that had any."""

    visitors_today: int
    visitors_week: int
    events_today: int
    events_week: int
    visitors_by_day: list[tuple[date, int]]


def traffic_summary(*, today_start: datetime, week_start: datetime) -> Traffic:
    """The admin dashboard's traffic in two queries over the week's partitions; imported datasets
    are other shops' shoppers and are left out."""
    week = Event.objects.filter(occurred_at__gte=week_start).exclude(source=Source.IMPORT)
    today = Q(occurred_at__gte=today_start)
    totals = week.aggregate(
        visitors_week=Count("visitor_id", distinct=True),
        visitors_today=Count("visitor_id", distinct=True, filter=today),
        events_week=Count("id"),
        events_today=Count("id", filter=today),
    )
    days = (
        week.annotate(day=TruncDate("occurred_at"))
        .values("day")
        .annotate(visitors=Count("visitor_id", distinct=True))
        .order_by("day")
    )
    return Traffic(**totals, visitors_by_day=[(row["day"], row["visitors"]) for row in days])
