"""Retention drops old shoppers' events by whole partitions and keeps imported datasets."""

import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.factories.tracking import EventFactory, RejectedEventFactory
from tracking.models import Event, RejectedEvent
from tracking.partitions import existing_partitions, partition_name, partitions_ensure

pytestmark = pytest.mark.django_db(transaction=True)


def test_purge_drops_old_months_keeps_recent_and_imported_events():
    now = timezone.now()
    old = now - timedelta(days=500)
    partitions_ensure(start=old - timedelta(days=31), end=old)
    stale = EventFactory(client_ts=old)
    imported = EventFactory(client_ts=old - timedelta(days=31), source="import")
    fresh = EventFactory(client_ts=now)
    RejectedEventFactory()
    RejectedEvent.objects.update(received_at=old)

    call_command("purge_events", days=400)

    assert set(Event.objects.values_list("pk", flat=True)) == {imported.pk, fresh.pk}
    assert partition_name(old.replace(day=1)) not in existing_partitions()
    assert not RejectedEvent.objects.exists()
    assert stale.pk not in Event.objects.values_list("pk", flat=True)


def test_rejected_events_are_kept_for_their_own_short_time(settings):
    from tracking.tasks import events_purge_expired

    now = timezone.now()
    ages = {"yesterday": 1, "last_week": 6, "ten_days_ago": 10, "last_month": 30}
    for label, days in ages.items():
        RejectedEventFactory(name=label)
        RejectedEvent.objects.filter(name=label).update(received_at=now - timedelta(days=days))
    assert settings.TRACKING_REJECTED_RETENTION_DAYS == 14  # the default
    events_purge_expired()
    assert set(RejectedEvent.objects.values_list("name", flat=True)) == {"yesterday", "last_week", "ten_days_ago"}
    settings.TRACKING_REJECTED_RETENTION_DAYS = 7
    events_purge_expired()
    assert set(RejectedEvent.objects.values_list("name", flat=True)) == {"yesterday", "last_week"}


def test_event_keys_outlive_their_events_and_go_once_the_events_are_gone():
    from tracking.models import EventKey
    from tracking.services import event_ingest
    from tracking.validation import MAX_AGE

    now = timezone.now()
    old_enough = now - timedelta(days=400) - MAX_AGE - timedelta(days=1)
    kept_a_little_longer = now - timedelta(days=400) - timedelta(days=1)
    for received in (old_enough, kept_a_little_longer, now):
        event = {"event_id": str(uuid.uuid4()), "name": "page_view", "ts": received.isoformat()}
        assert event_ingest(events=[event], visitor_id=uuid.uuid4(), received_at=received).accepted == 1
    call_command("purge_events", days=400, stdout=StringIO())
    assert EventKey.objects.count() == 2
    assert Event.objects.count() == 1
