"""One evaluator, two drivers: live counters and the backfill agree on random histories; Redis
can be flushed and rebuilt; a process killed between Redis and the record loses no transition."""

import multiprocessing
import os
import uuid
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.db import connections
from django_redis import get_redis_connection
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from segments import services
from segments.evaluator import epoch_ms, next_change_ms
from segments.models import Membership
from segments.record import journal_drain
from segments.services import catalogue_forget, catalogue_load, owners_facts, segments_backfill
from shop.keyspace import segment_due_key
from tests.factories.segments import SegmentFactory
from tests.factories.tracking import RawEventFactory
from tracking.models import Event

from .helpers import backfilled, fire_at, ingest, ingest_batch, live

T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)

DEFINITIONS = {
    "abandoners": {
        "all": [{"event": "add_to_cart", "within": "30m"}, {"event": "purchase", "within": "30m", "at_most": 0}]
    },
    "keen": {"event": "view_item", "within": "2h", "at_least": 2, "where": {"category": 5}},
    "session-keen": {"event": "view_item", "in_session": True, "at_least": 2},
    "spenders": {"aggregate": "sum", "of": "purchase", "within": "1d", "above": 50},
    "settled": {"tenure": {"at_least": "3h"}},
    # Holds from the first event, which an owner with no events does not have: judged, not assumed.
    "newcomers": {"tenure": {"at_most": "1h"}},
    "lapsed": {"all": [{"feature": "orders", "at_least": 1}, {"not": {"event": "page_view", "within": "90m"}}]},
    "both": {"any": [{"segment": "keen"}, {"segment": "spenders"}]},
    # True from an owner's first event on, whatever it is: no counter of theirs ever moves.
    "never-searched": {"not": {"event": "search", "within": "1d"}},
}

event = st.tuples(
    st.integers(min_value=0, max_value=8 * 60),  # minute after T0
    st.sampled_from(["view_item", "add_to_cart", "purchase", "page_view"]),
    st.sampled_from([5, 6]),
    st.integers(min_value=1, max_value=60),  # value
    st.integers(min_value=0, max_value=2),  # session number
    st.integers(min_value=0, max_value=59),  # second within the minute
    st.booleans(),  # the beat fired the due-times before this event (or it lags behind)
    st.booleans(),  # the owner's state was read ahead of the batch (the collector's way) or not
)


def _reset():
    get_redis_connection("default").flushdb()
    Event.objects.all().delete()
    Membership.objects.all().delete()
    catalogue_forget()


@pytest.mark.django_db
@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=st.lists(event, min_size=1, max_size=12), later=st.integers(min_value=0, max_value=26 * 60))
def test_live_and_backfill_agree_on_random_histories(history, later):
    _reset()
    # Nothing writes the owner between a read ahead and its batch here, so the state a verdict is
    # judged on is always the one its call leaves: a second judgement would be a wrong prediction.
    outcomes = []
    settle = services._published_or_again

    def noting(reply, **kwargs):
        outcomes.append(reply[-1])
        return settle(reply, **kwargs)

    for slug, definition in DEFINITIONS.items():
        SegmentFactory(slug=slug, definition=definition)
    visitor = uuid.uuid4()
    sessions, last_seen = [uuid.uuid4() for _ in range(3)], [T0] * 3
    owner = f"v:{visitor}"
    history = sorted(history)
    for index, (minute, name, category, value, session, second, beat_on_time, ahead) in enumerate(history):
        at = T0 + timedelta(minutes=minute, seconds=second)
        # As the session cookie does: idle for longer than a session lives, the next event starts a new one.
        if at - last_seen[session] > timedelta(minutes=settings.TRACKING_SESSION_MINUTES):
            sessions[session] = uuid.uuid4()
        last_seen[session] = max(last_seen[session], at)
        # Due-times that came while no event arrived fire first, as the beat would have fired them;
        # or the beat lags, and the batch itself must catch what time changed.
        if beat_on_time:
            fire_at(at)
        props = {"transaction_id": f"t{index}", "value": value} if name == "purchase" else {}
        product = {} if name in ("purchase", "page_view") else {"product_id": 1, "category_id": category}
        with mock.patch.object(services, "_published_or_again", noting):
            ingest(visitor, name, at=at, session=sessions[session], props=props, read_ahead=ahead, **product)
        assert outcomes == [1] * (index + 1), f"judged again after event {index}"
        assert live(owner) == backfilled(owner, at=at), f"after event {index}"
    end = T0 + timedelta(minutes=history[-1][0], seconds=59) + timedelta(minutes=later)
    fire_at(end)
    assert live(owner) == backfilled(owner, at=end)


# A first batch: events some minutes and seconds before it is sent, the minutes about the edges
# of DEFINITIONS' windows and tenures.
first_batch = st.lists(
    st.tuples(
        st.sampled_from([0, 1, 29, 30, 59, 60, 61, 89, 90, 119, 120]),  # minutes before the batch
        st.integers(min_value=0, max_value=59),  # and seconds
        st.sampled_from(["view_item", "add_to_cart", "page_view"]),
        st.sampled_from([5, 6]),
    ),
    min_size=1,
    max_size=4,
)


@pytest.mark.django_db
@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shapes=st.lists(first_batch, min_size=1, max_size=3),
    sent=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=2),
            st.integers(min_value=0, max_value=6 * 60),
            st.integers(0, 59),
            # A second batch of the visitor's: which shape, how many minutes after the first.
            st.none() | st.tuples(st.integers(0, 2), st.sampled_from([0, 1, 29, 30, 31, 60, 61, 90, 121])),
        ),
        min_size=2,
        max_size=8,
    ),
    later=st.integers(min_value=0, max_value=3 * 60),
)
# Batches alike but for one thing a verdict turns on: how many, how long before, since the first.
@example(
    shapes=[[(0, 0, "view_item", 5), (0, 0, "view_item", 5)], [(0, 0, "view_item", 5)]],
    sent=[(0, 9, 0, None), (1, 20, 0, None)],
    later=0,
)
@example(
    shapes=[[(40, 0, "page_view", 5), (10, 0, "add_to_cart", 5)], [(40, 0, "page_view", 5), (40, 0, "add_to_cart", 5)]],
    sent=[(0, 9, 0, None), (1, 70, 0, None)],
    later=0,
)
@example(
    shapes=[[(10, 0, "view_item", 6)], [(70, 0, "view_item", 6)]], sent=[(0, 100, 0, None), (1, 200, 0, None)], later=0
)
# Visitors alike until their second batches, which differ in what they add or when they come.
@example(
    shapes=[[(0, 0, "view_item", 5)], [(0, 0, "view_item", 6)]],
    sent=[(0, 9, 0, (0, 1)), (0, 50, 0, (1, 1)), (0, 80, 0, (0, 31))],
    later=0,
)
def test_visitors_whose_batches_are_alike_are_judged_alike_whenever_they_come(shapes, sent, later):
    # The same batches sent by visitors at different moments, a first and maybe a second: each is
    # judged as the backfill judges it then, with the same due-time, and leaves as time alone
    # changes its segments, whichever judged the state first.
    _reset()
    redis = get_redis_connection("default")
    for slug, definition in DEFINITIONS.items():
        SegmentFactory(slug=slug, definition=definition)
    judged = []  # (owner, when, their segments and due-time then)
    batches = []  # (when, visitor, shape), sent in time order
    for shape, minute, second, then in sent:
        at, visitor = T0 + timedelta(minutes=minute, seconds=second), uuid.uuid4()
        batches.append((at, visitor, shape))
        if then is not None:
            batches.append((at + timedelta(minutes=then[1]), visitor, then[0]))
    for at, visitor, shape in sorted(batches, key=lambda batch: batch[0]):
        events = [
            RawEventFactory(
                name=name,
                ts=epoch_ms(at - timedelta(minutes=ago, seconds=within)),
                product_id=1,
                category_id=category,
            )
            for ago, within, name, category in shapes[shape % len(shapes)]
        ]
        # The beat has fired the due-times that came before this batch.
        fire_at(at)
        ingest_batch(visitor, events, at=at)
        owner = f"v:{visitor}"
        expected, due_ms = _backfilled_aside(owner, at=at)
        assert live(owner) == expected, f"batch {len(judged)}"
        assert redis.zscore(segment_due_key(), owner) == services._due_score(due_ms), f"due-time of batch {len(judged)}"
        judged.append(owner)
    end = max(at for at, _, _ in batches) + timedelta(minutes=later, seconds=59)
    fire_at(end)
    for owner in judged:
        assert live(owner) == backfilled(owner, at=end)


def _backfilled_aside(owner: str, *, at: datetime) -> tuple[set[str], int | None]:
    """The backfill's segments and due-time of the owner at that moment, leaving this process's
    catalogue (and the verdicts it memoised) as it was: the backfill's look reloads it."""
    held = dict(services._cache)
    try:
        expected = backfilled(owner, at=at)
        catalogue = catalogue_load()
        (history,) = owners_facts(catalogue=catalogue, owners=[owner])
        return expected, next_change_ms(catalogue.clocks, history.facts, now_ms=epoch_ms(at))
    finally:
        services._cache.clear()
        services._cache.update(held)


@pytest.mark.django_db
def test_a_redis_flush_is_rebuilt_from_the_record():
    for slug, definition in DEFINITIONS.items():
        SegmentFactory(slug=slug, definition=definition)
    visitors = [uuid.uuid4() for _ in range(5)]
    for index, visitor in enumerate(visitors):
        ingest(visitor, "view_item", at=T0 + timedelta(minutes=index), product_id=1, category_id=5)
        ingest(visitor, "view_item", at=T0 + timedelta(minutes=index + 1), product_id=2, category_id=5)
    before = {visitor: live(f"v:{visitor}") for visitor in visitors}
    assert all("keen" in held for held in before.values())
    get_redis_connection("default").flushdb()
    assert all(not live(f"v:{visitor}") for visitor in visitors)
    import time_machine

    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        result = segments_backfill()
    assert {visitor: live(f"v:{visitor}") for visitor in visitors} == before
    # The record was right all along: rebuilding Redis corrected nothing in Postgres.
    assert sum(result.corrections.values()) == 0
    # The counters came back too: the keen leave by their due-times two hours on.
    fire_at(T0 + timedelta(hours=2, minutes=7))
    assert all("keen" not in live(f"v:{visitor}") for visitor in visitors)


def _ingest_then_die(visitor: uuid.UUID, where: str) -> None:
    """A child process storing one cart event and dying at the named point between the Redis
    change and the Postgres record."""
    from segments import record, services
    from shop.keyspace import RedisBatch

    # A drainer that dies holding the journal's lock holds it this long: not the tests' 30 s.
    record.LOCK_SECONDS = 1
    if where == "before_publish":
        original_execute = RedisBatch.execute

        def dying_execute(self, *, raise_on_error=True):
            # The read ahead goes through; the ingest's batch (the script counting, journaling and
            # publishing) never leaves.
            if any(name == "segment_count" for name, _, _ in self._scripts.values()):
                os._exit(9)
            return original_execute(self, raise_on_error=raise_on_error)

        RedisBatch.execute = dying_execute
    elif where == "after_publish":
        services._journal_drain_soon = lambda: os._exit(9)
    elif where == "mid_drain":
        record.memberships_write = lambda rows: os._exit(9)
    else:
        original_write = record.memberships_write

        def write_then_die(rows):
            original_write(rows)
            os._exit(9)

        record.memberships_write = write_then_die
    ingest(visitor, "add_to_cart", at=T0, product_id=3)
    os._exit(0)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("where", ["before_publish", "after_publish", "mid_drain", "after_commit"])
def test_a_process_killed_mid_transition_loses_nothing_and_records_nothing_twice(where):
    SegmentFactory(slug="abandoners", definition=DEFINITIONS["abandoners"])
    visitor = uuid.uuid4()
    owner = f"v:{visitor}"
    connections.close_all()
    child = multiprocessing.get_context("fork").Process(target=_ingest_then_die, args=(visitor, where))
    child.start()
    child.join(30)
    assert child.exitcode == 9
    # The event is stored; Redis shows the membership once the batch went out; the record has it
    # only past the drain's commit.
    assert Event.objects.filter(visitor_id=visitor).count() == 1
    assert live(owner) == (set() if where == "before_publish" else {"abandoners"})
    assert Membership.objects.filter(owner=owner).count() == (1 if where == "after_commit" else 0)
    # The next drain (beat's, or any batch's) records what the journal holds, once.
    journal_drain()
    assert Membership.objects.filter(owner=owner).count() == (0 if where == "before_publish" else 1)
    # The next look at this owner (here the sweep; a later batch or due-time would do the same) finishes it.
    catalogue_forget()
    import time_machine

    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        segments_backfill()
    assert live(owner) == {"abandoners"}
    assert Membership.objects.filter(owner=owner).count() == 1
    assert Membership.objects.filter(owner=owner, exited_at__isnull=True).count() == 1
