"""Retention drops old shoppers' events by whole partitions and keeps imported datasets."""

from datetime import timedelta

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
