"""The admin index is a dashboard: the day's and week's figures, charts and links, staff only, in bounded queries."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from shop.dashboard import dashboard
from shop.orders.models import Order
from tests.factories.catalog import ProductFactory, ReviewFactory
from tests.factories.orders import OrderFactory, OrderLineFactory
from tests.factories.tracking import EventFactory

pytestmark = pytest.mark.django_db

# Mid-afternoon in the shop's time zone (UTC in the tests), so "an hour ago" is today.
NOW = datetime(2026, 3, 12, 15, 0, tzinfo=UTC)


def _record(*, at: datetime, visitor, name: str = "view_item", **fields) -> None:
    EventFactory(visitor_id=visitor, name=name, client_ts=at, **fields)


@pytest.fixture
def week():
    """Two visitors today (one of them seen three days ago too), one three days ago, one last month."""
    today, earlier, old = NOW - timedelta(hours=1), NOW - timedelta(days=3), NOW - timedelta(days=30)
    ada, bob, cy, dee = (f"00000000-0000-0000-0000-00000000000{n}" for n in range(1, 5))
    for visitor in (ada, bob):
        _record(at=today, visitor=visitor)
    _record(at=earlier, visitor=ada)
    _record(at=earlier, visitor=cy)
    _record(at=old, visitor=dee)
    _record(at=today, visitor=ada, name="impression", properties={"slot": "home_main", "algorithm": "popularity"})
    _record(at=today, visitor=bob, name="impression", properties={"slot": "home_main", "algorithm": "popularity"})
    _record(at=today, visitor=ada, name="select_item", properties={"slot": "home_main", "algorithm": "popularity"})
    _record(at=today, visitor=imported(), name="view_item", source="import")
    mug, jug = ProductFactory(title="Stoneware mug"), ProductFactory(title="Copper jug")
    for placed, product, quantity, status in (
        (today, mug, 3, Order.Status.PAID),
        (earlier, jug, 1, Order.Status.PAID),
        (earlier, jug, 5, Order.Status.CANCELLED),
        (old, jug, 9, Order.Status.PAID),
    ):
        order = OrderFactory(user=None, total=Decimal("30.00"), status=status)
        Order.objects.filter(pk=order.pk).update(placed_at=placed)
        OrderLineFactory(order=order, product=product, quantity=quantity)
    ReviewFactory(is_published=False)


def imported():
    return "00000000-0000-0000-0000-0000000000ff"


def test_the_figures_count_today_and_the_week(week):
    with time_machine.travel(NOW, tick=False):
        board = dashboard(now=NOW)
    figures = {figure.label: (figure.today, figure.week) for figure in board["figures"]}
    assert figures["Visitors"] == ("2", "3")
    assert figures["Events"] == ("5", "7")
    assert figures["Orders"] == ("1", "2")
    assert figures["Revenue"] == ("£30.00", "£60.00")
    assert figures["Conversion (orders per visitor)"] == ("50.0%", "66.7%")
    assert [(row.slot, row.impressions, row.clicks) for row in board["slots"]] == [("home_main", 2, 1)]
    assert [(row.title, row.units) for row in board["products"]] == [("Stoneware mug", 3), ("Copper jug", 1)]
    assert board["reviews_waiting"] == 1


def test_staff_see_the_dashboard_with_charts_and_links_in_bounded_queries(week, staff_client):
    with time_machine.travel(NOW, tick=False):
        staff_client.get(reverse("admin:index"))  # sessions and permissions warmed
        with CaptureQueriesContext(connection) as queries:
            response = staff_client.get(reverse("admin:index"))
        # More traffic is more rows in the same queries, not more queries.
        _record(at=NOW - timedelta(minutes=5), visitor="00000000-0000-0000-0000-000000000099")
        OrderLineFactory(order=OrderFactory(user=None))
        with CaptureQueriesContext(connection) as again:
            staff_client.get(reverse("admin:index"))
    assert response.status_code == 200
    body = response.content.decode()
    for title in (
        "Visitors per day, last 7 days",
        "Orders per day, last 7 days",
        "Click-through by slot, last 7 days",
        "Top products by units sold, last 7 days",
    ):
        assert title in body
    assert "echarts.common.min.js" in body
    for report in (
        "admin:slot_performance",
        "admin:tracking_quality_report",
        "admin:orders_order_changelist",
        "admin:experiments_experiment_impact",
    ):
        assert reverse(report) in body
    assert "Reviews awaiting moderation: 1" in body
    # The session and the user, the dashboard's seven: one query per figure family, none per row.
    assert len(queries) <= 9, [query["sql"] for query in queries]
    assert len(again) == len(queries)


def test_the_dashboard_is_for_staff_only(client, week):
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
