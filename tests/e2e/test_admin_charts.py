"""Admin reports draw their charts with the vendored charting library: hover values, legend, zoom."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories.accounts import PASSWORD, StaffFactory
from tests.factories.tracking import EventFactory, RejectedEventFactory
from tests.factories.tracking_analytics import VolumeAlertFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def _log_in(page, live_server) -> None:
    staff = StaffFactory()
    page.goto(live_server.url + "/admin/login/")
    page.fill("input[name=username]", staff.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(live_server.url + "/admin/")


def _errors(page) -> list[str]:
    errors: list[str] = []

    def console(message) -> None:
        # The admin links no favicon, so the browser's own guess at /favicon.ico is not the page's error.
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def test_quality_report_bars_show_their_value_on_hover(live_server, page, shot):
    RejectedEventFactory.create_batch(7, reason="unknown_event")
    RejectedEventFactory.create_batch(3, reason="bad_type")
    errors = _errors(page)
    _log_in(page, live_server)
    page.goto(live_server.url + "/admin/tracking/rejectedevent/quality/")
    figure = page.locator("figure.chart-drawn").first
    figure.wait_for()
    # The library drew its own SVG; the server's stays in the page as the fallback, hidden.
    canvas = figure.locator(".chart-canvas svg")
    assert canvas.count() == 1
    assert figure.locator(":scope > svg").is_hidden()
    assert "unknown_event" in canvas.inner_html() and "bad_type" in canvas.inner_html()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.25)
    page.wait_for_function(
        "document.querySelector('figure.chart-drawn .chart-canvas svg').textContent.includes('unknown_event: 7')"
    )
    shot(page, "quality-desktop")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(200)
    assert canvas.bounding_box()["width"] <= PHONE["width"]
    shot(page, "quality-phone")
    assert errors == []


def test_volume_alert_chart_has_a_legend_flagged_point_and_zoom(live_server, page, shot):
    hour = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    for offset in range(-30, 4):
        stamp = hour + timedelta(hours=offset, minutes=5)
        if stamp < timezone.now():
            EventFactory.create_batch(2 if offset == 0 else 6, name="page_view", client_ts=stamp)
    alert = VolumeAlertFactory(hour=hour, name="page_view", observed=2, expected=6.0)
    errors = _errors(page)
    _log_in(page, live_server)
    page.goto(live_server.url + f"/admin/tracking/volumealert/{alert.pk}/change/")
    figure = page.locator("figure.chart-drawn")
    figure.wait_for()
    text = figure.locator(".chart-canvas svg").inner_html()
    assert "Observed" in text and "Expected" in text and "Flagged" in text
    # The slider under the plot zooms: dragging its left handle narrows the visible hours.
    labels_before = figure.locator(".chart-canvas svg").text_content()
    chart_box = figure.locator(".chart-canvas").bounding_box()
    page.mouse.move(chart_box["x"] + chart_box["width"] * 0.5, chart_box["y"] + chart_box["height"] * 0.4)
    for _ in range(5):
        page.mouse.wheel(0, -300)
    page.wait_for_timeout(400)
    assert figure.locator(".chart-canvas svg").text_content() != labels_before
    shot(page, "volume-alert-desktop")
    assert errors == []


def test_cohorts_heatmap_is_drawn_with_each_cells_share_on_hover(live_server, page, shot):
    start = timezone.now() - timedelta(days=70)
    for shopper in range(4):
        visitor = uuid.uuid4()
        EventFactory(visitor_id=visitor, name="page_view", client_ts=start + timedelta(hours=shopper))
        if shopper < 2:
            EventFactory(visitor_id=visitor, name="page_view", client_ts=start + timedelta(days=35))
    errors = _errors(page)
    _log_in(page, live_server)
    page.goto(live_server.url + "/admin/segments/segment/cohorts/")
    figure = page.locator("figure.chart-drawn")
    figure.wait_for()
    canvas = figure.locator(".chart-canvas svg")
    assert "100%" in canvas.inner_html(), "each cell carries its share"
    # The first row's first cell (100%) answers a hover with its cohort and period.
    box = canvas.bounding_box()
    cells = canvas.locator("path[fill='#417690']")
    assert cells.count() >= 1
    cell = cells.first.bounding_box()
    page.mouse.move(cell["x"] + cell["width"] / 2, cell["y"] + cell["height"] / 2)
    page.wait_for_function(
        "document.querySelector('figure.chart-drawn .chart-canvas svg').textContent.includes('Months since 0: 100%')"
    )
    shot(page, "cohorts-desktop")
    assert box["width"] > 0
    assert errors == []
