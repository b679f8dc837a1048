"""A login hands the visitor's segments to the user: their counters merge, their stays move."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django_redis import get_redis_connection

from segments.models import Membership
from shop.keyspace import owner_segments_key, segment_counts_key, segment_due_key
from tests.factories.accounts import UserFactory
from tests.factories.segments import SegmentFactory
from tracking.services import identity_link

from .helpers import backfilled, ingest, live

T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
KEEN = {"event": "view_item", "within": "2h", "at_least": 2, "where": {"category": 5}}


def _login(visitor: uuid.UUID, user, *, at: datetime, capture) -> None:
    with time_machine.travel(at, tick=False), capture(execute=True):
        identity_link(visitor_id=visitor, user_id=user.pk)


@pytest.mark.django_db
def test_a_login_adds_the_visitors_counts_to_the_users(django_capture_on_commit_callbacks):
    SegmentFactory(slug="keen", definition=KEEN)
    user, phone, laptop = UserFactory(), uuid.uuid4(), uuid.uuid4()
    ingest(phone, "view_item", at=T0, user_id=user.pk, product_id=1, category_id=5)
    ingest(laptop, "view_item", at=T0 + timedelta(minutes=1), product_id=2, category_id=5)
    # One view each: neither the signed-in user nor the anonymous laptop is keen yet.
    assert live(f"u:{user.pk}") == set() and live(f"v:{laptop}") == set()

    _login(laptop, user, at=T0 + timedelta(minutes=2), capture=django_capture_on_commit_callbacks)

    assert live(f"u:{user.pk}") == {"keen"} == backfilled(f"u:{user.pk}", at=T0 + timedelta(minutes=2))
    assert Membership.objects.get(owner=f"u:{user.pk}", exited_at__isnull=True).segment.slug == "keen"
    redis = get_redis_connection("default")
    assert not redis.exists(segment_counts_key(f"v:{laptop}"), owner_segments_key(f"v:{laptop}"))
    assert redis.zscore(segment_due_key(), f"v:{laptop}") is None
    # The merged counters go on live: the user leaves two hours after the first view.
    assert redis.zscore(segment_due_key(), f"u:{user.pk}") == (T0 + timedelta(hours=2)).timestamp()


@pytest.mark.django_db
def test_a_login_moves_the_visitors_stays_to_the_user_keeping_when_they_began(django_capture_on_commit_callbacks):
    SegmentFactory(slug="browsers", definition={"event": "view_item", "within": "1d"})
    SegmentFactory(slug="keen", definition=KEEN)
    user, phone, laptop = UserFactory(), uuid.uuid4(), uuid.uuid4()
    ingest(laptop, "view_item", at=T0, product_id=1, category_id=5)
    ingest(laptop, "view_item", at=T0 + timedelta(minutes=5), product_id=2, category_id=5)
    ingest(phone, "view_item", at=T0 + timedelta(minutes=10), user_id=user.pk, product_id=3, category_id=6)
    assert live(f"v:{laptop}") == {"browsers", "keen"}
    assert live(f"u:{user.pk}") == {"browsers"}

    _login(laptop, user, at=T0 + timedelta(minutes=20), capture=django_capture_on_commit_callbacks)

    stays = {row.segment.slug: row.entered_at for row in Membership.objects.filter(exited_at__isnull=True)}
    # Keen since the laptop's second view, a browser since the user's own first: one stay each, the user's.
    assert stays == {"keen": T0 + timedelta(minutes=5), "browsers": T0 + timedelta(minutes=10)}
    assert set(Membership.objects.filter(exited_at__isnull=True).values_list("owner", flat=True)) == {f"u:{user.pk}"}
    assert live(f"u:{user.pk}") == {"browsers", "keen"}
    assert live(f"v:{laptop}") == set()
