"""The impact report: the global holdout against everyone else, and the orders slot clicks brought."""

import csv
import io
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from experiments.impact import attribution_report, holdout_report
from tests.factories.tracking import EventFactory
from tracking.models import Event

pytestmark = pytest.mark.django_db


def click(session, product, *, slot, algorithm, at, name="select_item"):
    props = {"slot": slot, "algorithm": algorithm, "position": 1}
    return EventFactory(name=name, session_id=session, product_id=product, properties=props, client_ts=at)


def purchase(session, lines, *, at, value=None):
    """A purchase of (product, price, quantity) lines in this session."""
    items = [{"item_id": str(product), "price": price, "quantity": quantity} for product, price, quantity in lines]
    total = value if value is not None else sum(price * quantity for _, price, quantity in lines) + 4.95
    props = {"transaction_id": str(uuid.uuid4()), "value": total, "items": items}
    return EventFactory(name="purchase", source="server", session_id=session, properties=props, client_ts=at)


@pytest.fixture
def sessions():
    """Five sessions of one morning, each telling one thing about attribution."""
    t = timezone.now() - timedelta(hours=3)
    one, two, three, four, five = (uuid.uuid4() for _ in range(5))
    # clicked on the home shelf, then bought it (two of them) with something else
    click(one, 11, slot="home_recommended", algorithm="hybrid", at=t)
    purchase(one, [(11, 20.0, 2), (12, 5.0, 1)], at=t + timedelta(minutes=5))
    # clicked in one session, bought in another: not the slot's doing
    click(two, 13, slot="product_similar", algorithm="content", at=t)
    purchase(three, [(13, 30.0, 1)], at=t + timedelta(hours=1))
    # bought first, clicked after
    purchase(four, [(14, 8.0, 1)], at=t)
    click(four, 14, slot="product_similar", algorithm="content", at=t + timedelta(minutes=1))
    # clicked in two slots: the last click before the purchase has it
    click(five, 15, slot="product_similar", algorithm="content", at=t)
    click(five, 15, slot="home_recommended", algorithm="hybrid", at=t + timedelta(minutes=1))
    purchase(five, [(15, 10.0, 1)], at=t + timedelta(minutes=2))
    return t


def test_a_slot_click_then_a_purchase_of_that_product_in_the_session_is_the_slots_and_nothing_else(sessions):
    report = attribution_report(start=sessions - timedelta(hours=1), end=timezone.now())
    home, similar = report.by_slot
    assert (home.slot, home.clicks, home.sessions, home.orders, home.units) == ("home_recommended", 2, 2, 2, 3)
    assert home.revenue == pytest.approx(2 * 20.0 + 10.0)  # the clicked lines, not product 12 or shipping
    assert home.conversion.mean == 1.0
    assert (similar.slot, similar.clicks, similar.sessions, similar.orders, similar.revenue) == (
        "product_similar", 3, 3, 0, 0.0
    )  # fmt: skip
    assert similar.conversion.mean == 0.0 and similar.conversion.interval.high > 0
    assert [(row.algorithm, row.revenue) for row in report.by_algorithm] == [("hybrid", 50.0), ("content", 0.0)]
    assert report.orders == 4
    assert report.revenue == pytest.approx(45.0 + 30.0 + 8.0 + 10.0 + 4 * 4.95)
    assert report.attributed_share == pytest.approx(50.0 / report.revenue)


def test_a_click_the_tracker_records_as_a_plain_click_with_its_slot_counts_too():
    t = timezone.now() - timedelta(hours=1)
    session = uuid.uuid4()
    click(session, 21, slot="cart_complete", algorithm="itemknn", at=t, name="click")
    purchase(session, [(21, 12.5, 2)], at=t + timedelta(minutes=3))
    (row,) = attribution_report(start=t - timedelta(hours=1), end=timezone.now()).by_slot
    assert (row.slot, row.orders, row.revenue) == ("cart_complete", 1, 25.0)


def test_the_period_bounds_what_is_counted(sessions):
    report = attribution_report(start=sessions + timedelta(minutes=30), end=timezone.now())
    assert report.by_slot == [] and report.orders == 1  # only the purchase an hour later


def exposed(variant: str, count: int, *, buyers: int = 0, value: float = 30.0, at=None) -> None:
    """count visitors shown the programme's variant (holdout or personalized), the first buyers of
    them buying for value a minute later."""
    seen = at or timezone.now() - timedelta(hours=2)
    rows = []
    for index in range(count):
        visitor = uuid.uuid4()
        props = {"experiment": "holdout", "variant": variant, "day": 1, "policy": "split"}
        rows.append(EventFactory.build(visitor_id=visitor, name="experiment_exposure", source="server",
                                       properties=props, client_ts=seen))  # fmt: skip
        if index < buyers:
            props = {"transaction_id": str(uuid.uuid4()), "value": value}
            rows.append(EventFactory.build(visitor_id=visitor, name="purchase", source="server", properties=props,
                                           client_ts=seen + timedelta(minutes=1)))  # fmt: skip
    Event.objects.bulk_create(rows)


def test_the_holdout_against_everyone_else_with_intervals_on_the_difference():
    exposed("holdout", 400, buyers=40)
    exposed("personalized", 3600, buyers=720)
    exposed("personalized", 50, at=timezone.now() - timedelta(days=40))  # before the period
    report = holdout_report(start=timezone.now() - timedelta(days=7), end=timezone.now(), percent=10)
    assert report.counts == {"holdout": 400, "personalized": 3600}
    assert not report.srm.mismatch
    conversion, revenue, _ = report.results
    assert (conversion.control.mean, conversion.treatment.mean) == pytest.approx((0.1, 0.2))
    assert conversion.effect.absolute == pytest.approx(0.1)
    assert conversion.effect.absolute_interval.low > 0  # personalization converts better, and it shows
    assert (revenue.control.mean, revenue.treatment.mean) == pytest.approx((3.0, 6.0))
    low, high = revenue.effect.absolute_interval.low, revenue.effect.absolute_interval.high
    assert low < 3.0 < high
    assert report.lift_over_time[-1][1].relative == pytest.approx(1.0)


def test_a_holdout_that_did_not_split_as_set_is_flagged(staff_client, settings):
    settings.EXPERIMENTS_HOLDOUT_PERCENT = 10
    exposed("holdout", 300)
    exposed("personalized", 700)
    response = staff_client.get(reverse("admin:experiments_experiment_impact"))
    assert response.context["holdout"].srm.mismatch
    assert "Sample-ratio mismatch" in response.content.decode()


def test_the_impact_page_is_reached_from_experiments_and_shows_charts_and_csv(staff_client, settings, sessions):
    settings.EXPERIMENTS_HOLDOUT_PERCENT = 10
    exposed("holdout", 40, buyers=4)
    exposed("personalized", 360, buyers=72)
    url = reverse("admin:experiments_experiment_impact")
    assert url in staff_client.get(reverse("admin:experiments_experiment_changelist")).content.decode()
    response = staff_client.get(url)
    body = " ".join(response.content.decode().split())
    assert response.status_code == 200
    assert "Revenue after a slot click, by slot" in body and "chart-bar" in body
    assert "Cumulative lift of revenue per visitor" in body
    assert "10% of visitors never see personalization" in body
    assert "<td>Home: Recommended for you</td>" in body  # the slot by its admin label
    rows = list(csv.DictReader(io.StringIO(staff_client.get(url, {"format": "csv"}).content.decode())))
    holdout = {row["metric"]: row for row in rows if row["section"] == "holdout"}
    assert holdout["conversion"]["holdout_n"] == "40" and float(holdout["conversion"]["personalized_mean"]) == 0.2
    (home,) = [r for r in rows if r["section"] == "attribution by slot" and r["slot"] == "home_recommended"]
    assert (home["orders"], float(home["revenue"])) == ("2", 50.0)


def test_a_bad_period_is_a_message_not_an_error(staff_client):
    response = staff_client.get(reverse("admin:experiments_experiment_impact"), {"start": "2026-13-40"})
    assert response.status_code == 200
    assert "Showing the last 30 days instead" in response.content.decode()
