"""Tracking admin: funnel and data quality reports, the read-only event record, hostile payloads."""

import uuid
from datetime import timedelta
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories.accounts import UserFactory
from tests.factories.tracking import EventFactory, RejectedEventFactory
from tests.factories.tracking_analytics import FunnelFactory, VolumeAlertFactory
from tracking import admin as tracking_admin
from tracking.models import VolumeAlert

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def funnel_with_shoppers():
    funnel = FunnelFactory(name="View to cart", steps=["view_item", "add_to_cart"])
    start = timezone.now() - timedelta(days=2)
    for index in range(4):
        visitor = uuid.uuid4()
        EventFactory(name="view_item", visitor_id=visitor, client_ts=start)
        if index == 0:
            EventFactory(name="add_to_cart", visitor_id=visitor, client_ts=start + timedelta(minutes=3))
    EventFactory(name="video_play", client_ts=start, properties={"video": "x"})
    return funnel


def test_funnel_report_shows_a_chart_and_the_numbers(staff_client, funnel_with_shoppers):
    url = reverse("admin:tracking_funnel_report", args=[funnel_with_shoppers.pk])
    response = staff_client.get(url)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('<figure class="chart"') == 2  # the funnel and the micro-conversions
    assert html.count('class="chart-bar"') == 2 + 4  # two steps, four kinds of micro-conversion
    assert 'aria-labelledby="chart-' in html
    assert "<strong>4</strong> started" in html
    assert "25.0 %" in html  # one of four went on to the cart
    assert "3 min" in html  # the median time from view to cart
    assert "Video played" in html


def test_funnel_change_page_links_to_its_report(staff_client, funnel_with_shoppers):
    response = staff_client.get(reverse("admin:tracking_funnel_change", args=[funnel_with_shoppers.pk]))
    assert reverse("admin:tracking_funnel_report", args=[funnel_with_shoppers.pk]) in response.content.decode()


@pytest.mark.parametrize(
    "params",
    [
        {"start": "yesterday", "end": "2026-13-45"},
        {"start": "2026-05-10", "end": "2026-05-01"},
        {"start": "2020-01-01", "end": "2026-01-01"},
        {"start": "<script>", "end": ""},
        {"start": "9999-12-31", "end": "9999-12-31"},
        {"start": "2026-02-30"},
    ],
)
def test_bad_dates_give_a_message_and_the_default_period(staff_client, funnel_with_shoppers, params):
    url = reverse("admin:tracking_funnel_report", args=[funnel_with_shoppers.pk])
    response = staff_client.get(url, params)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="error"' in html
    assert "<strong>4</strong> started" in html  # the last 30 days, shown instead
    assert HOSTILE not in html and "<script>" not in html


def test_a_chosen_period_is_applied(staff_client, funnel_with_shoppers):
    url = reverse("admin:tracking_funnel_report", args=[funnel_with_shoppers.pk])
    long_ago = (timezone.localdate() - timedelta(days=100)).isoformat()
    response = staff_client.get(url, {"start": long_ago, "end": long_ago})
    assert "<strong>0</strong> started" in response.content.decode()


def test_reports_send_anonymous_visitors_and_shoppers_to_the_admin_login(client, funnel_with_shoppers):
    urls = [
        reverse("admin:tracking_funnel_report", args=[funnel_with_shoppers.pk]),
        reverse("admin:tracking_quality_report"),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    client.force_login(UserFactory())
    for url in urls:
        assert client.get(url).status_code == 302


def test_a_report_of_a_missing_funnel_redirects_with_a_message(staff_client):
    response = staff_client.get(reverse("admin:tracking_funnel_report", args=[987654]), follow=True)
    assert response.status_code == 200
    assert "doesn’t exist" in response.content.decode()


def test_quality_report_counts_rejections_per_reason_and_links_to_them(staff_client):
    RejectedEventFactory.create_batch(3, reason="unknown_event")
    RejectedEventFactory(reason="bad_type", payload=HOSTILE)
    response = staff_client.get(reverse("admin:tracking_quality_report"))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<figure class="chart"' in html
    assert "4 events refused" in html
    assert "unknown_event: 3" in html and "bad_type: 1" in html
    href = next(part.split('"')[0] for part in html.split('<a href="')[1:] if "reason=unknown_event" in part)
    listed = staff_client.get(unescape(href))
    assert listed.status_code == 200
    assert listed.content.decode().count("unknown_event</td>") == 3


def test_quality_report_shows_alerts_with_a_chart_of_their_event(staff_client):
    hour = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    for offset in range(1, 8):
        EventFactory(name="page_view", client_ts=hour - timedelta(days=offset))
    alert = VolumeAlertFactory(hour=hour, name="page_view", observed=0, expected=1.0)
    response = staff_client.get(reverse("admin:tracking_quality_report"))
    html = response.content.decode()
    assert "1 drop and" in html
    assert 'class="chart-flag"' in html
    assert reverse("admin:tracking_volumealert_change", args=[alert.pk]) in html


def test_quality_report_charts_the_events_asked_for(staff_client):
    EventFactory(name="search", properties={"search_term": "mug"})
    response = staff_client.get(reverse("admin:tracking_quality_report"), {"name": ["search", "<script>"]})
    html = response.content.decode()
    assert "Search: events per hour" in html
    # Rejections (none: a "no data" figure) and one volume chart; the junk name is ignored.
    assert html.count('<figure class="chart"') == 2


def test_rejected_payload_is_shown_escaped_never_raw(staff_client):
    rejected = RejectedEventFactory(reason="unknown_field", payload='{"name": "' + HOSTILE + '"}')
    response = staff_client.get(reverse("admin:tracking_rejectedevent_change", args=[rejected.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert HOSTILE not in html


def test_rejected_events_cannot_be_added_changed_or_deleted(staff_client):
    rejected = RejectedEventFactory()
    assert staff_client.get(reverse("admin:tracking_rejectedevent_add")).status_code == 403
    assert staff_client.post(reverse("admin:tracking_rejectedevent_delete", args=[rejected.pk])).status_code == 403
    page = staff_client.get(reverse("admin:tracking_rejectedevent_change", args=[rejected.pk])).content.decode()
    assert 'name="_save"' not in page


def test_event_list_finds_a_visitor_by_uuid_and_nothing_for_junk(staff_client):
    wanted = EventFactory(name="purchase")
    EventFactory.create_batch(2)
    url = reverse("admin:tracking_event_changelist")
    found = staff_client.get(url, {"q": str(wanted.visitor_id)}).content.decode()
    assert found.count('class="field-name"') == 1 and "Purchase" in found
    by_event = staff_client.get(url, {"q": str(wanted.event_id)}).content.decode()
    assert by_event.count('class="field-name"') == 1
    junk = staff_client.get(url, {"q": "not-a-uuid"})
    assert junk.status_code == 200
    assert 'class="field-name"' not in junk.content.decode()


def test_event_list_never_counts_the_whole_table(staff_client, monkeypatch):
    monkeypatch.setattr(tracking_admin.CappedCountPaginator, "cap", 3)
    EventFactory.create_batch(5)
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(reverse("admin:tracking_event_changelist"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "more than 3 events" in html
    counts = [query["sql"] for query in queries.captured_queries if "COUNT(" in query["sql"].upper()]
    assert counts and all("LIMIT" in sql.upper() for sql in counts if "tracking_event" in sql)


def test_event_record_is_read_only(staff_client):
    event = EventFactory()
    assert staff_client.get(reverse("admin:tracking_event_add")).status_code == 403
    page = staff_client.get(reverse("admin:tracking_event_change", args=[event.pk]))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert staff_client.post(reverse("admin:tracking_event_delete", args=[event.pk])).status_code == 403


def test_alert_page_draws_the_hours_around_it_and_alerts_can_be_acknowledged(staff_client):
    alert = VolumeAlertFactory()
    EventFactory(name="page_view", client_ts=alert.hour + timedelta(minutes=5))
    page = staff_client.get(reverse("admin:tracking_volumealert_change", args=[alert.pk])).content.decode()
    assert '<figure class="chart"' in page and 'class="chart-flag"' in page
    response = staff_client.post(
        reverse("admin:tracking_volumealert_changelist"),
        {"action": "acknowledge", "_selected_action": [alert.pk]},
        follow=True,
    )
    assert "1 alert(s) acknowledged." in response.content.decode()
    assert VolumeAlert.objects.get().acknowledged


def test_funnel_steps_must_have_distinct_positions(staff_client):
    response = staff_client.post(
        reverse("admin:tracking_funnel_add"),
        {
            "name": "Twice first",
            "window": "1 00:00:00",
            "is_active": "on",
            "steps-TOTAL_FORMS": "2",
            "steps-INITIAL_FORMS": "0",
            "steps-MIN_NUM_FORMS": "0",
            "steps-MAX_NUM_FORMS": "1000",
            "steps-0-position": "1",
            "steps-0-event_name": "view_item",
            "steps-1-position": "1",
            "steps-1-event_name": "purchase",
        },
    )
    assert response.status_code == 200
    assert "Two steps share a position" in response.content.decode()
