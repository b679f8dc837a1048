"""Factories of the event record: raw events as a tracker sends them, and stored events."""

import uuid
from datetime import UTC, datetime

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from tracking.models import Event, RejectedEvent


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


class RawEventFactory(factory.DictFactory):
    """One event as the browser tracker sends it in a batch."""

    event_id = factory.LazyFunction(lambda: str(uuid.uuid4()))
    name = "page_view"
    ts = factory.LazyFunction(now_ms)
    props = factory.LazyFunction(lambda: {"page_location": "/"})


class EventFactory(DjangoModelFactory):
    class Meta:
        model = Event

    event_id = factory.LazyFunction(uuid.uuid4)
    name = "view_item"
    source = "web"
    visitor_id = factory.LazyFunction(uuid.uuid4)
    session_id = factory.LazyFunction(uuid.uuid4)
    properties = factory.LazyFunction(dict)
    client_ts = factory.LazyFunction(timezone.now)
    occurred_at = factory.LazyAttribute(lambda o: o.client_ts)
    received_at = factory.LazyAttribute(lambda o: o.client_ts)


class RejectedEventFactory(DjangoModelFactory):
    class Meta:
        model = RejectedEvent

    reason = "unknown_event"
    detail = "no event is named 'x'"
    name = "x"
    payload = '{"name": "x"}'
