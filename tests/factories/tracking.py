"""Factories of the event record: raw events as a tracker sends them, and stored events."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

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


def carts_history(*, baskets: Sequence[Sequence]) -> None:
    """Past shoppers, one a basket, each adding its products to the cart an hour apart (the
    first most recently): what the recommenders learn "bought together" from."""
    now = timezone.now()
    for basket in baskets:
        visitor = uuid.uuid4()
        for hours, product in enumerate(basket):
            EventFactory(
                visitor_id=visitor,
                name="add_to_cart",
                source="server",
                product_id=product.pk,
                client_ts=now - timedelta(hours=hours + 1),
            )
