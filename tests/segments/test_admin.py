"""The segment admin: a bad definition is a form message, saving nothing; preview equals the backfill; chart, CSV."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from segments.models import Membership, Segment
from segments.services import segments_backfill
from tests.factories.segments import SegmentFactory

from .helpers import ingest

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
ADD = "/admin/segments/segment/add/"


def form(definition: str, **extra) -> dict:
    return {"slug": "keen", "name": "Keen", "definition": definition, "is_active": "on", **extra}


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ('{"event": "teleport", "within": "1h"}', "no event is named"),
        ('{"event": "view_item", "within": "3650d"}', "at most 365 days"),
        ('{"event": "view_item", "within": "1h"', "Enter a valid JSON"),
        ('{"segment": "nobody"}', "no segment has the slug"),
        ('{"not": ' * 50 + '{"event": "view_item"}' + "}" * 50, "nest at most 8 deep"),
    ],
)
def test_a_bad_definition_is_a_form_message_and_saves_nothing(staff_client, definition, message):
    response = staff_client.post(ADD, form(definition))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Segment.objects.exists()


def test_preview_counts_what_the_backfill_then_records(staff_client):
    for index in range(3):
        ingest(uuid.uuid4(), "view_item", at=T0 - timedelta(minutes=index), product_id=1, category_id=5)
    ingest(uuid.uuid4(), "view_item", at=T0, product_id=1, category_id=6)
    definition = '{"event": "view_item", "within": "1h", "where": {"category": 5}}'
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        preview = staff_client.post("/admin/segments/segment/preview/", form(definition))
        assert not Segment.objects.exists()
        assert "<strong>3</strong> shoppers match now" in preview.content.decode()
        bad = staff_client.post("/admin/segments/segment/preview/", form('{"event": "view_item", "within": "0m"}'))
        assert bad.status_code == 400 and "at least one minute" in bad.content.decode()
        saved = staff_client.post(ADD, form(definition))
        assert saved.status_code == 302
        segments_backfill()
    segment = Segment.objects.get()
    assert Membership.objects.filter(segment=segment, exited_at__isnull=True).count() == 3
    assert segment.last_evaluated_at is not None


def test_the_change_page_shows_size_over_time_freshness_and_errors_and_exports_csv(staff_client):
    segment = SegmentFactory(slug="keen", definition={"event": "view_item", "within": "1h"})
    visitor = uuid.uuid4()
    ingest(visitor, "view_item", at=T0, product_id=1)
    Segment.objects.filter(pk=segment.pk).update(last_error="broken: the definition no longer parses")
    page = staff_client.get(f"/admin/segments/segment/{segment.pk}/change/").content.decode()
    assert 'class="chart"' in page and "Members of" in page
    assert "Last evaluation failed, memberships kept as they were" in page
    listing = staff_client.get("/admin/segments/segment/").content.decode()
    assert "broken: the definition" in listing
    csv = b"".join(staff_client.get(f"/admin/segments/segment/{segment.pk}/members.csv").streaming_content).decode()
    assert csv.splitlines()[0] == "owner,entered_at"
    assert csv.splitlines()[1].startswith(f"v:{visitor},")


def test_a_segment_whose_definition_breaks_keeps_its_members_and_shows_the_error():
    segment = SegmentFactory(slug="keen", definition={"event": "view_item", "within": "1h"})
    visitor = uuid.uuid4()
    ingest(visitor, "view_item", at=T0, product_id=1)
    Segment.objects.filter(pk=segment.pk).update(definition={"event": "teleport"})
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        segments_backfill()
    segment.refresh_from_db()
    assert "no event is named 'teleport'" in segment.last_error
    assert Membership.objects.filter(segment=segment, exited_at__isnull=True).count() == 1


def test_imported_datasets_join_no_segment():
    """Other shops' customers in an imported file are nobody here: the backfill, the sweep and the
    preview leave them out, as the live hook never sees them."""
    from segments.conditions import definition_parse
    from segments.services import segment_preview
    from tests.factories.tracking import EventFactory

    EventFactory(name="purchase", source="import", properties={"value": 10.0})
    EventFactory(name="purchase", source="web", properties={"value": 10.0})
    preview = segment_preview(slug="buyers", definition=definition_parse({"event": "purchase", "within": "7d"}))
    assert preview.count == 1
