"""The collector reads a visitor's segment state ahead, on its rate limits' round trip; a verdict
judged on it goes out only if nothing else wrote the visitor in between."""

import gc
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django_redis import get_redis_connection

from segments.models import Membership
from segments.record import journal_drain
from segments.services import catalogue_forget
from shop.keyspace import RedisBatch, segment_counts_key, segment_handover_key
from tests.factories.segments import SegmentFactory
from tests.factories.tracking import RawEventFactory
from tracking.hooks import hooks_read_ahead
from tracking.models import Event
from tracking.services import event_ingest

from .helpers import ingest, live

pytestmark = pytest.mark.django_db
T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
TWO_VIEWS = {"event": "view_item", "within": "30m", "at_least": 2}


def _collect(client, *names):
    response = client.post(
        reverse("tracking:collect"),
        data={"events": [RawEventFactory(name=name, product_id=1) for name in names]},
        content_type="application/json",
        HTTP_ORIGIN="http://testserver",
    )
    assert response.status_code == 202, response.content


def test_a_collected_batch_is_judged_with_no_round_trip_of_its_own(client, settings, redis_round_trips):
    # No drain after this batch: its round trips are the journal's, not the judgement's.
    settings.SEGMENTS_JOURNAL_ROWS = 1000
    settings.SEGMENTS_JOURNAL_SECONDS = 3600
    client.post(reverse("tracking:consent"), {"choice": "granted"})
    _collect(client, "page_view")
    redis_round_trips.clear()
    _collect(client, "page_view")
    without = len(redis_round_trips)
    SegmentFactory(slug="two-views", definition=TWO_VIEWS)
    catalogue_forget()
    _collect(client, "view_item")
    redis_round_trips.clear()
    _collect(client, "view_item")
    assert len(redis_round_trips) == without, "the segments added a round trip"
    owner = f"v:{Event.objects.values_list('visitor_id', flat=True).first()}"
    assert live(owner) == {"two-views"}
    journal_drain()
    assert Membership.objects.filter(owner=owner, exited_at__isnull=True).count() == 1


def test_a_judged_batch_leaves_nothing_for_the_garbage_collector():
    """A batch's pipeline, its counting and its callbacks go as the ingest returns: left in a
    cycle, they stayed until the collector ran, and the collections they brought on cost each
    request more than judging it."""
    SegmentFactory(slug="two-views", definition=TWO_VIEWS)
    visitor = uuid.uuid4()
    ingest(visitor, "view_item", at=T0, product_id=1)
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        ingest(visitor, "view_item", at=T0 + timedelta(minutes=1), product_id=2)
        gc.collect()
        ours = [type(item) for item in gc.garbage if type(item).__module__.startswith(("segments", "shop"))]
        left = {kind.__qualname__ for kind in ours}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert live(f"v:{visitor}") == {"two-views"}
    assert left == set()


def test_a_read_ahead_overtaken_by_another_batch_is_judged_again():
    SegmentFactory(slug="two-views", definition=TWO_VIEWS)
    visitor = uuid.uuid4()
    owner = f"v:{visitor}"
    with time_machine.travel(T0, tick=False):
        early = RedisBatch()
        reading = hooks_read_ahead(visitor_id=visitor, user_id=None, redis=early)
        early.execute()
        stale = reading.taken()
    # Another worker stores a view of this visitor's after the read ahead and before the batch.
    ingest(visitor, "view_item", at=T0 + timedelta(seconds=1), product_id=1, read_ahead=False)
    assert live(owner) == set()
    with time_machine.travel(T0 + timedelta(seconds=2), tick=False):
        # Judged on the state read ahead, this view is the first of one: not two views.
        event_ingest(events=[RawEventFactory(name="view_item", product_id=2)], visitor_id=visitor, read_ahead=stale)
    assert live(owner) == {"two-views"}
    journal_drain()
    stay = Membership.objects.get(owner=owner)
    assert stay.exited_at is None
    assert stay.entered_at == T0 + timedelta(seconds=2)


def test_a_batch_sent_summed_goes_again_event_by_event_when_a_backfill_opened_its_handover_meanwhile():
    SegmentFactory(slug="two-views", definition=TWO_VIEWS)
    visitor = uuid.uuid4()
    owner = f"v:{visitor}"
    redis = get_redis_connection("default")
    ingest(visitor, "view_item", at=T0, product_id=1)
    with time_machine.travel(T0 + timedelta(seconds=1), tick=False):
        early = RedisBatch()
        reading = hooks_read_ahead(visitor_id=visitor, user_id=None, redis=early)
        early.execute()
        ahead = reading.taken()
    # A backfill reaches this visitor after the read ahead saw no handover, before the batch is counted.
    redis.hset(segment_handover_key(owner), "open", 1)
    with time_machine.travel(T0 + timedelta(seconds=2), tick=False):
        view = RawEventFactory(name="view_item", product_id=2)
        event_ingest(events=[view], visitor_id=visitor, read_ahead=ahead)
    assert live(owner) == {"two-views"}
    assert sum(int(value) for value in redis.hgetall(segment_counts_key(owner)).values()) == 2, "counted twice"
    # Counted with its id, so the backfill can add back what its read of the record missed.
    assert redis.hget(segment_handover_key(owner), view["event_id"])
