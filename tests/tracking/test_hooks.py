"""The ingest seam: hooks in TRACKING_HOOKS see each committed batch once, share one Redis round trip, fail nothing."""

import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured

from personalization.profiles import profile_owner, profile_read
from shop.keyspace import RedisBatch
from tests.factories.tracking import RawEventFactory
from tracking.hooks import StoredBatch, hooks_loaded
from tracking.models import Event
from tracking.services import event_ingest, identity_link

pytestmark = pytest.mark.django_db

DEFAULT_HOOKS = ["tracking.analytics.quality.IngestCounters", "personalization.hooks.ProfileHook"]


class Recorder:
    """Keeps what it was told and queues one Redis command per batch, as a real hook would."""

    batches: list[StoredBatch] = []
    identified: list[tuple[uuid.UUID, int]] = []

    def batch_stored(self, batch: StoredBatch, *, redis: RedisBatch) -> None:
        Recorder.batches.append(batch)
        redis.pipe.incr(f"recorder:{batch.visitor_id}")

    def visitor_identified(self, *, visitor_id: uuid.UUID, user_id: int) -> None:
        Recorder.identified.append((visitor_id, user_id))


class Broken:
    def batch_stored(self, batch: StoredBatch, *, redis: RedisBatch) -> None:
        raise RuntimeError("a hook with a bug")


class Neither:
    pass


class FailsToStart:
    def __init__(self):
        raise RuntimeError("no connection to the thing it needs")

    def batch_stored(self, batch: StoredBatch, *, redis: RedisBatch) -> None:
        pass


@pytest.fixture
def recorder(settings):
    Recorder.batches, Recorder.identified = [], []
    settings.TRACKING_HOOKS = [
        "tests.tracking.test_hooks.Broken",
        *DEFAULT_HOOKS,
        "tests.tracking.test_hooks.Recorder",
    ]
    return Recorder


def test_a_hook_sees_only_what_was_stored_and_whose_it_is(recorder):
    visitor, session = uuid.uuid4(), uuid.uuid4()
    events = RawEventFactory.build_batch(2, name="view_item", product_id=7)
    event_ingest(events=events, visitor_id=visitor, session_id=session)
    event_ingest(events=[events[0], RawEventFactory(name="teleport")], visitor_id=visitor, session_id=session)
    first, second = recorder.batches
    assert [event.event_id for event in first.events] == [uuid.UUID(event["event_id"]) for event in events]
    assert (first.visitor_id, first.session_id, first.user_id, first.source) == (visitor, session, None, "web")
    # The resent event and the refused one reach no hook as events, only as counts.
    assert (second.events, second.duplicates, second.rejected) == ((), 1, 1)


def test_a_broken_hook_fails_nothing_and_every_hook_shares_one_round_trip(recorder, redis_round_trips):
    visitor = uuid.uuid4()
    result = event_ingest(events=[RawEventFactory(name="view_item", product_id=7)], visitor_id=visitor)
    sent = len(redis_round_trips)
    assert result.accepted == 1 and Event.objects.count() == 1
    # The profile hook after the broken one still ran, and so did the last one.
    assert profile_read(owner=profile_owner(visitor_id=visitor, user_id=None)).recent == [7]
    assert len(recorder.batches) == 1
    assert sent == 1, f"{sent} round trips to Redis"


def test_a_login_reaches_the_identity_hooks_once_the_link_commits(
    recorder, django_user_model, django_capture_on_commit_callbacks
):
    user = django_user_model.objects.create_user(username="ada", password="x")
    visitor = uuid.uuid4()
    with django_capture_on_commit_callbacks(execute=True):
        identity_link(visitor_id=visitor, user_id=user.pk)
        assert recorder.identified == []
    assert recorder.identified == [(visitor, user.pk)]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("tests.tracking.test_hooks.Missing", "cannot be imported"),
        (
            "tests.tracking.test_hooks.Neither",
            "none of batch_stored, visitor_identified, visitor_signed_out, batch_arriving",
        ),
        ("tests.tracking.test_hooks.FailsToStart", "failed to start"),
    ],
)
def test_a_wrong_hook_setting_says_which_entry_is_wrong(settings, path, message):
    settings.TRACKING_HOOKS = [*DEFAULT_HOOKS, path]
    with pytest.raises(ImproperlyConfigured, match=message) as error:
        hooks_loaded()
    assert path in str(error.value)


def test_manage_py_check_names_a_wrong_hook(settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.TRACKING_HOOKS = [*DEFAULT_HOOKS, "tests.tracking.test_hooks.Neither"]
    with pytest.raises(SystemCheckError, match=r"tracking\.E001.*test_hooks\.Neither"):
        call_command("check")


def test_a_wrong_hook_setting_still_stores_the_batch(settings, caplog):
    settings.TRACKING_HOOKS = [*DEFAULT_HOOKS, "tests.tracking.test_hooks.Neither"]
    assert event_ingest(events=[RawEventFactory()], visitor_id=uuid.uuid4()).accepted == 1
    assert Event.objects.count() == 1
    assert "TRACKING_HOOKS is wrong" in caplog.text
