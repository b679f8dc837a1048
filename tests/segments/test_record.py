"""The record of entries and exits: live transitions wait in the journal, reach Postgres in bulk, once each."""

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections
from django_redis import get_redis_connection
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from segments.evaluator import epoch_ms
from segments.models import Membership
from segments.record import Row, journal_drain, lines_of, memberships_write, row_encode
from segments.tasks import segments_journal_drain_task
from shop.keyspace import segment_journal_key, segment_journal_taken_key
from tests.factories.segments import SegmentFactory

from .helpers import ingest, live

T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
T1, T2 = T0 + timedelta(minutes=5), T0 + timedelta(minutes=9)
CARTED = {"event": "add_to_cart", "within": "30m"}
VIEWED = {"event": "view_item", "within": "30m"}


def _stays(owner: str) -> list[tuple[str, datetime, datetime | None]]:
    rows = Membership.objects.filter(owner=owner).order_by("entered_at", "segment__slug")
    return list(rows.values_list("segment__slug", "entered_at", "exited_at"))


@pytest.fixture
def deployed(settings):
    """The thresholds a deployment runs with (the tests' settings drain after every batch)."""
    settings.SEGMENTS_JOURNAL_ROWS, settings.SEGMENTS_JOURNAL_SECONDS = 1000, 1.0
    return settings


@pytest.mark.django_db
def test_a_live_entry_shows_at_once_and_reaches_the_record_with_its_own_moment_a_second_on(deployed):
    SegmentFactory(slug="carted", definition=CARTED)
    shopper, other = uuid.uuid4(), uuid.uuid4()
    ingest(shopper, "add_to_cart", at=T0, product_id=3)
    assert live(f"v:{shopper}") == {"carted"}
    assert _stays(f"v:{shopper}") == []
    # Under a second later, another batch leaves the journal as it is...
    ingest(other, "view_item", at=T0 + timedelta(milliseconds=500), product_id=3)
    assert _stays(f"v:{shopper}") == []
    # ...and the first batch after the oldest row has waited a second drains it.
    ingest(other, "view_item", at=T0 + timedelta(seconds=1, milliseconds=100), product_id=3)
    assert _stays(f"v:{shopper}") == [("carted", T0, None)]
    assert get_redis_connection("default").llen(segment_journal_key()) == 0


@pytest.mark.django_db
def test_a_full_journal_is_drained_by_the_batch_that_fills_it(deployed):
    deployed.SEGMENTS_JOURNAL_ROWS = 3
    SegmentFactory(slug="viewed", definition=VIEWED)
    shoppers = [uuid.uuid4() for _ in range(3)]
    for index, shopper in enumerate(shoppers[:2]):
        ingest(shopper, "view_item", at=T0 + timedelta(milliseconds=index), product_id=3)
    assert Membership.objects.count() == 0
    ingest(shoppers[2], "view_item", at=T0 + timedelta(milliseconds=2), product_id=3)
    assert Membership.objects.filter(exited_at__isnull=True).count() == 3


@pytest.mark.django_db
def test_beat_drains_what_a_quiet_shop_left(deployed):
    SegmentFactory(slug="carted", definition=CARTED)
    shopper = uuid.uuid4()
    ingest(shopper, "add_to_cart", at=T0, product_id=3)
    assert segments_journal_drain_task() == {"rows": 1}
    assert _stays(f"v:{shopper}") == [("carted", T0, None)]
    assert segments_journal_drain_task() == {"rows": 0}


@pytest.mark.django_db
def test_rows_of_a_segment_deleted_meanwhile_are_dropped_and_the_rest_recorded():
    kept, deleted = SegmentFactory(slug="kept"), SegmentFactory(slug="deleted")
    rows = [Row(deleted.pk, "v:a", True, T0), Row(kept.pk, "v:a", True, T0)]
    deleted.delete()
    memberships_write(rows)
    assert _stays("v:a") == [("kept", T0, None)]


@pytest.mark.django_db
def test_stays_a_drain_recorded_of_a_segment_as_it_was_deleted_go_once_the_delete_commits(
    django_capture_on_commit_callbacks,
):
    kept, deleted = SegmentFactory(slug="kept"), SegmentFactory(slug="deleted")
    memberships_write([Row(kept.pk, "v:a", True, T0)])
    gone = deleted.pk
    with django_capture_on_commit_callbacks(execute=True):
        deleted.delete()
        # A drain that looked at the segments before the delete, committing after its cascade.
        Membership.objects.create(segment_id=gone, owner="v:a", entered_at=T0)
    assert not Membership.objects.filter(segment_id=gone).exists()
    assert _stays("v:a") == [("kept", T0, None)]


def _first(rows: list[Row]) -> list[str]:
    """The rows as the live path journals them: the entries of an owner's first verdict (before
    any exit or second row of a segment of theirs) marked as judged with nothing stored."""
    lines, opening, settled = [], {}, set()
    for row in rows:
        entered = opening.setdefault(row.owner, set())
        first = row.owner not in settled and row.entered and row.segment not in entered
        if first:
            entered.add(row.segment)
        else:
            settled.add(row.owner)
        changes = [(row.owner, "s", row.entered)]
        lines += lines_of(changes, at=epoch_ms(row.at), segments={"s": row.segment}, first=first)
    return lines


# Outside a test's transaction, as a drain writes: a run that falls back is rolled back whole.
@pytest.mark.django_db(transaction=True)
def test_first_entries_of_an_owner_with_stays_recorded_are_applied_like_any_entry():
    """After a Redis flush an owner with a record is judged as if new: a first entry during an
    open stay adds nothing; one after a closed stay opens a new one. A first entry twice in one
    run (a replayed journal) is recorded once."""
    open_in, closed_in = SegmentFactory(slug="open"), SegmentFactory(slug="closed")
    memberships_write(
        [Row(open_in.pk, "v:a", True, T0), Row(closed_in.pk, "v:a", True, T0), Row(closed_in.pk, "v:a", False, T1)]
    )
    later = [Row(open_in.pk, "v:a", True, T2), Row(closed_in.pk, "v:a", True, T2), Row(open_in.pk, "v:b", True, T2)]
    memberships_write(_first(later))
    assert _stays("v:a") == [("closed", T0, T1), ("open", T0, None), ("closed", T2, None)]
    assert _stays("v:b") == [("open", T2, None)]
    twice = _first([Row(open_in.pk, "v:c", True, T2), Row(closed_in.pk, "v:c", True, T2)])
    memberships_write([*twice, twice[0]])
    assert _stays("v:c") == [("closed", T2, None), ("open", T2, None)]


# A transition: which of two segments, which of two owners, entered or not; applied in order,
# each a second after the one before.
transition = st.tuples(st.integers(0, 1), st.sampled_from(["v:a", "v:b"]), st.booleans())


@pytest.mark.django_db
@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    transitions=st.lists(transition, max_size=14),
    cuts=st.lists(st.integers(1, 5), min_size=1, max_size=14),
    replays=st.sets(st.integers(0, 13)),
)
# A first entry and its exit in one chunk, the chunk applied twice: the stay once, not twice.
@example(transitions=[(0, "v:a", True), (0, "v:a", False)], cuts=[2], replays={0})
def test_rows_applied_in_any_chunks_and_some_chunks_twice_make_the_record_one_pass_makes(transitions, cuts, replays):
    """A drainer dying after its commit but before clearing what it took has its chunk applied
    again by the next: the record must come out as if every row had been applied once, owners'
    first entries (recorded without a look for a stay) and all."""
    segments = [SegmentFactory(slug=f"s{index}-{uuid.uuid4().hex[:6]}") for index in range(2)]
    rows = [
        Row(segments[which].pk, owner, entered, T0 + timedelta(seconds=step))
        for step, (which, owner, entered) in enumerate(transitions)
    ]
    lines = _first(rows)
    chunks, start = [], 0
    for size in cuts * len(lines):
        if start >= len(lines):
            break
        chunks.append(lines[start : start + size])
        start += size
    for index, chunk in enumerate(chunks):
        memberships_write(chunk)
        if index in replays:
            memberships_write(chunk)
    got = sorted(
        Membership.objects.filter(segment__in=segments).values_list("segment_id", "owner", "entered_at", "exited_at")
    )
    Membership.objects.filter(segment__in=segments).delete()
    for row in rows:
        memberships_write([row])
    once = sorted(
        Membership.objects.filter(segment__in=segments).values_list("segment_id", "owner", "entered_at", "exited_at")
    )
    assert got == once


@pytest.mark.django_db(transaction=True)
def test_two_drainers_at_once_record_every_row_once():
    segment = SegmentFactory(slug="viewed", definition=VIEWED)
    owners = [f"v:{uuid.uuid4()}" for _ in range(2500)]
    rows = [row_encode(Row(segment.pk, owner, True, T0)) for owner in owners]
    get_redis_connection("default").rpush(segment_journal_key(), *rows)
    applied = []

    def drain():
        applied.append(journal_drain())
        connections.close_all()

    drainers = [threading.Thread(target=drain) for _ in range(2)]
    for drainer in drainers:
        drainer.start()
    for drainer in drainers:
        drainer.join(60)
    assert sum(applied) == 2500
    assert Membership.objects.filter(segment=segment).count() == 2500
    redis = get_redis_connection("default")
    assert redis.llen(segment_journal_key()) == 0 and redis.llen(segment_journal_taken_key()) == 0
