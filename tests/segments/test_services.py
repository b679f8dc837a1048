"""The live counters stay small, and a backfill running beside live batches neither loses nor doubles one."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django_redis import get_redis_connection
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from segments import services
from segments.conditions import definition_parse
from segments.evaluator import epoch_ms, increments
from segments.hooks import SegmentHook
from segments.models import Membership, Segment
from segments.services import catalogue_forget, segments_backfill
from shop.keyspace import RedisBatch, segment_counts_key, segment_members_key, segment_meta_key
from tests.factories.segments import SegmentFactory
from tracking.hooks import StoredBatch, TrackedEvent

from .helpers import backfilled, ingest, live

T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
SESSION_KEEN = {"event": "view_item", "in_session": True, "at_least": 2}
EXACTLY_THREE = {"event": "view_item", "within": "2h", "at_least": 3, "at_most": 3}


def _fields(owner: str) -> dict[str, int]:
    return {
        key.decode(): int(value)
        for key, value in get_redis_connection("default").hgetall(segment_counts_key(owner)).items()
    }


@pytest.mark.django_db
def test_a_visitors_finished_sessions_leave_their_counters(settings):
    SegmentFactory(slug="session-keen", definition=SESSION_KEEN)
    visitor = uuid.uuid4()
    owner = f"v:{visitor}"
    gap = timedelta(minutes=settings.TRACKING_SESSION_MINUTES + 10)
    sessions = [uuid.uuid4() for _ in range(6)]
    for index, session in enumerate(sessions):
        at = T0 + index * gap
        ingest(visitor, "view_item", at=at, session=session, product_id=1, category_id=5)
        ingest(visitor, "view_item", at=at + timedelta(minutes=1), session=session, product_id=2, category_id=5)
        assert live(owner) == {"session-keen"}
    counter = definition_parse(SESSION_KEEN).root.counter.id
    # Only the visit going on is counted; five finished visits hold nothing.
    assert _fields(owner) == {f"{counter}|c|{sessions[-1]}": 2}
    stamps = [key for key in get_redis_connection("default").hkeys(segment_meta_key(owner)) if key.startswith(b"at:")]
    assert stamps == [f"at:{sessions[-1]}".encode()]
    # A new visit starts at nothing: one view is not two.
    ingest(visitor, "view_item", at=T0 + 6 * gap, session=uuid.uuid4(), product_id=3, category_id=5)
    assert live(owner) == set() == backfilled(owner, at=T0 + 6 * gap)


@pytest.mark.django_db
def test_two_visits_going_on_at_once_keep_each_their_count(settings):
    SegmentFactory(slug="session-keen", definition=SESSION_KEEN)
    visitor, tab, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    owner = f"v:{visitor}"
    ingest(visitor, "view_item", at=T0, session=tab, product_id=1, category_id=5)
    ingest(visitor, "view_item", at=T0 + timedelta(minutes=1), session=other, product_id=2, category_id=5)
    ingest(visitor, "view_item", at=T0 + timedelta(minutes=2), session=tab, product_id=3, category_id=5)
    assert live(owner) == {"session-keen"} == backfilled(owner, at=T0 + timedelta(minutes=2))


@pytest.mark.django_db
def test_a_batch_reads_back_only_the_counters_of_segments_in_use():
    SegmentFactory(slug="three", definition=EXACTLY_THREE)
    visitor = uuid.uuid4()
    owner = f"v:{visitor}"
    redis = get_redis_connection("default")
    # A counter of a definition since edited away, and a bucket long out of every window.
    counter = definition_parse(EXACTLY_THREE).root.counter.id
    old_minute = int(T0.timestamp() // 60) - 600
    redis.hset(segment_counts_key(owner), mapping={"gone|c|all": 7, f"{counter}|c|{old_minute}": 2})
    batch = RedisBatch()
    with time_machine.travel(T0, tick=False):
        position = services._count_queue(
            batch, owner=owner, catalogue=services.catalogue_load(), now_ms=int(T0.timestamp() * 1000)
        )
        flat, *_ = batch.execute()[position]
    assert flat == []
    # The bucket past the window is gone; the unknown counter is kept for the definition that may use it.
    assert _fields(owner) == {"gone|c|all": 7}


def _view(visitor, minute: int, product: int):
    return ingest(visitor, "view_item", at=T0 + timedelta(minutes=minute), product_id=product, category_id=5)


@pytest.fixture
def two_views(db):
    """A visitor two views into a segment of exactly three views in two hours."""
    SegmentFactory(slug="three", definition=EXACTLY_THREE)
    visitor = uuid.uuid4()
    _view(visitor, 0, 1)
    _view(visitor, 1, 2)
    return visitor, f"v:{visitor}"


def _backfill_at(minute: int):
    catalogue_forget()
    with time_machine.travel(T0 + timedelta(minutes=minute), tick=False):
        return segments_backfill()


@pytest.mark.django_db
def test_a_batch_stored_while_the_backfill_reads_is_not_overwritten(two_views, monkeypatch):
    visitor, owner = two_views
    reading = services.owners_facts

    def read_then_a_batch_arrives(**kwargs):
        histories = list(reading(**kwargs))
        # Stored and counted live after the backfill's read, before its write.
        _view(visitor, 2, 3)
        yield from histories

    monkeypatch.setattr(services, "owners_facts", read_then_a_batch_arrives)
    result = _backfill_at(3)
    monkeypatch.setattr(services, "owners_facts", reading)
    assert result.rechecked == 1
    assert sum(_fields(owner).values()) == 3
    assert live(owner) == {"three"} == backfilled(owner, at=T0 + timedelta(minutes=3))


@pytest.mark.django_db
def test_a_batch_the_backfill_counted_is_not_counted_again_when_its_hook_runs_late(two_views, settings):
    visitor, owner = two_views
    hooks = settings.TRACKING_HOOKS
    settings.TRACKING_HOOKS = []
    late = _view(visitor, 2, 3)  # committed; its hook has not run yet
    settings.TRACKING_HOOKS = hooks
    _backfill_at(3)
    assert live(owner) == {"three"}
    batch = RedisBatch()
    with time_machine.travel(T0 + timedelta(minutes=3), tick=False):
        SegmentHook().batch_stored(
            StoredBatch(
                events=tuple(late.stored),
                source="web",
                visitor_id=visitor,
                user_id=None,
                session_id=None,
                received_at=T0 + timedelta(minutes=2),
            ),
            redis=batch,
        )
        batch.execute()
    assert sum(_fields(owner).values()) == 3
    assert live(owner) == {"three"}


@pytest.mark.django_db
def test_batches_after_the_backfill_count_as_ever(two_views):
    visitor, owner = two_views
    _backfill_at(2)
    _view(visitor, 3, 3)
    assert live(owner) == {"three"}
    _view(visitor, 4, 4)
    assert live(owner) == set() == backfilled(owner, at=T0 + timedelta(minutes=4))


@pytest.mark.django_db
def test_a_process_keeps_its_compiled_segments_until_a_definition_changes(monkeypatch):
    monkeypatch.setattr(services, "DEFINITIONS_TTL_SECONDS", 0)
    segment = SegmentFactory(slug="viewers", definition={"event": "view_item", "within": "1h"})
    held = services.catalogue_load()
    held.verdicts["a verdict"] = None
    assert services.catalogue_load() is held, "nothing changed, yet the segments were compiled again"
    Segment.objects.filter(pk=segment.pk).update(definition={"event": "view_item", "within": "2h"})
    edited = services.catalogue_load()
    (counter,) = edited.definitions["viewers"].counters
    assert edited.horizons == {counter.id: 120}
    assert not edited.verdicts, "verdicts judged under the old definition outlived it"
    Segment.objects.filter(pk=segment.pk).update(is_active=False)
    assert not services.catalogue_load().active


@pytest.mark.django_db(transaction=True)
def test_a_segment_deleted_while_this_process_still_holds_it_costs_no_other_entry():
    SegmentFactory(slug="viewers", definition={"event": "view_item", "within": "1h", "at_least": 1})
    doomed = SegmentFactory(slug="doomed", definition={"event": "view_item", "within": "1h", "at_least": 1})
    visitor = uuid.uuid4()
    services.catalogue_load()
    doomed.delete()
    ingest(visitor, "view_item", at=datetime.now(UTC), product_id=1, category_id=5)
    assert list(Membership.objects.filter(owner=f"v:{visitor}").values_list("segment__slug", flat=True)) == ["viewers"]


COUNTED = {
    "cat-views": {"event": "view_item", "within": "1h", "where": {"category": 5}},
    "product-views": {"event": "view_item", "in_session": True, "where": {"product": 1}},
    "phones": {"device": "phone", "within": "1d"},
    "newsletter": {"source": "newsletter", "within": "1d"},
    "spend": {"aggregate": "sum", "of": "purchase", "within": "1d", "above": 10},
    "impressed": {"event": "impression", "within": "30m", "at_least": 5},
}
PROPERTY = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.sampled_from([1.0, 2.5, "1", "True", "phone"]))


@hypothesis_settings(max_examples=200, deadline=None)
@example([("purchase", None, None, True, None, None, 0, 0), ("purchase", None, None, 1, None, None, 0, 1)])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["view_item", "impression", "purchase", "page_view"]),
            st.sampled_from([None, 1, 2]),  # product
            st.sampled_from([None, 5, 6]),  # category
            PROPERTY,  # value
            PROPERTY,  # device
            st.sampled_from([None, "/?utm_source=newsletter", "/?utm_source=other", ["a"]]),  # page_location
            st.integers(0, 1),  # session
            st.integers(0, 90),  # second
        ),
        min_size=1,
        max_size=25,
    )
)
def test_a_batch_counts_what_each_of_its_events_adds_alike_or_not(drawn):
    """Events alike in what the counters read are worked out once a batch: never two that differ."""
    definitions = {slug: definition_parse(definition) for slug, definition in COUNTED.items()}
    catalogue = services.Catalogue(definitions=definitions, active={slug: i for i, slug in enumerate(definitions)})
    sessions = [uuid.uuid4() for _ in range(2)]
    events = [
        TrackedEvent(
            event_id=uuid.uuid4(),
            name=name,
            visitor_id=uuid.uuid4(),
            user_id=None,
            session_id=sessions[session],
            product_id=product,
            category_id=category,
            properties={"value": value, "device": device, "page_location": location},
            occurred_at=T0 + timedelta(seconds=second),
        )
        for name, product, category, value, device, location, session, second in drawn
    ]
    expected: dict[str, int] = {}
    for event in events:
        pairs = increments(
            catalogue.by_event.get(event.name, ()),
            name=event.name,
            product_id=event.product_id,
            category_id=event.category_id,
            properties=event.properties,
            session_id=event.session_id,
            at_ms=epoch_ms(event.occurred_at),
        )
        for key, amount in pairs:
            expected[key] = expected.get(key, 0) + amount
    assert services._counting(events, catalogue=catalogue).added == expected


@pytest.mark.django_db
def test_a_rule_segment_keeps_its_members_in_the_record_and_each_owners_set_not_in_a_set_of_its_own():
    SegmentFactory(slug="viewers", definition={"event": "view_item", "within": "1h"})
    visitor = uuid.uuid4()
    redis = get_redis_connection("default")
    redis.sadd(segment_members_key("viewers"), "v:left-behind")
    ingest(visitor, "view_item", at=T0, product_id=1)
    assert live(f"v:{visitor}") == {"viewers"}
    assert not redis.sismember(segment_members_key("viewers"), f"v:{visitor}")
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        segments_backfill()
    # A set under a rule segment's name is stale: nothing would ever take an owner out of it.
    assert not redis.exists(segment_members_key("viewers"))
    assert Membership.objects.get(segment__slug="viewers").owner == f"v:{visitor}"


@pytest.mark.django_db
def test_a_memoised_verdict_is_reused_only_for_the_same_segments_held_and_judged():
    SegmentFactory(slug="viewers", definition={"event": "view_item", "within": "1h"})
    SegmentFactory(slug="buyers", definition={"event": "purchase", "within": "1h"})
    catalogue_forget()
    catalogue = services.catalogue_load()
    now_ms = epoch_ms(T0)
    (viewed,) = increments(
        catalogue.counters,
        name="view_item",
        product_id=1,
        category_id=None,
        properties={},
        session_id=None,
        at_ms=now_ms,
    )

    def judged(current, checks=services.ALL_CHECKED):
        read = services._read_of(
            dict([viewed]),
            first_ms=now_ms,
            session=None,
            current=set(current),
            previous_session=None,
            due_ms=None,
            last_ms=now_ms,
        )
        verdict = services._verdict_of(read, checks, catalogue=catalogue, now_ms=now_ms)
        return verdict.entered, verdict.exited

    assert judged([]) == ({"viewers"}, set())
    # The same counters with a segment held that no longer holds: it is left, then and next time.
    assert judged(["buyers"]) == ({"viewers"}, {"buyers"})
    assert judged(["buyers"]) == ({"viewers"}, {"buyers"})
    # Judged on one segment alone, the other is neither entered nor left.
    assert judged(["buyers"], services.Checks(frozenset({"viewers"}))) == ({"viewers"}, set())
