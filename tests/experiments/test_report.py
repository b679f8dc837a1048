"""The report: metrics per variant from the event record, the SRM banner, the CSV export."""

import csv
import io
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from experiments.selectors import experiment_report
from experiments.services import experiment_start
from tests.factories.experiments import ab_experiment
from tests.factories.tracking import EventFactory
from tracking.models import Event

pytestmark = pytest.mark.django_db


def exposed(experiment, variant: str, count: int, *, then=(), web=True, before=()):
    """count visitors exposed to variant, each doing the events in then after exposure (and
    those in before, before it), as (name, properties) pairs."""
    now = timezone.now()
    rows = []
    for _ in range(count):
        visitor = uuid.uuid4()
        seen = now + timedelta(minutes=1)
        props = {"experiment": str(experiment.pk), "variant": variant, "day": 1, "slot": experiment.slot}
        rows.append(EventFactory.build(visitor_id=visitor, name="experiment_exposure", source="server",
                                       properties=props, client_ts=seen))  # fmt: skip
        if web:
            rows.append(EventFactory.build(visitor_id=visitor, name="page_view", client_ts=seen))
        for name, properties in then:
            rows.append(EventFactory.build(visitor_id=visitor, name=name, properties=properties,
                                           client_ts=seen + timedelta(minutes=1)))  # fmt: skip
        for name, properties in before:
            rows.append(EventFactory.build(visitor_id=visitor, name=name, properties=properties,
                                           client_ts=seen - timedelta(seconds=30)))  # fmt: skip
    Event.objects.bulk_create(rows)


def started(**fields):
    return experiment_start(experiment=ab_experiment(**{"guardrails": ["revenue", "conversion"], **fields}))


def test_metrics_per_variant_count_only_what_came_after_exposure():
    experiment = started()
    click = ("select_item", {"slot": "home_recommended"})
    exposed(experiment, "control", 400, then=[click] * 1)
    exposed(experiment, "control", 600, before=[click])  # clicked before seeing it: not counted
    exposed(experiment, "treatment", 600, then=[click, ("purchase", {"transaction_id": "t", "value": 30.0})])
    exposed(experiment, "treatment", 400)
    report = experiment_report(experiment=experiment)
    assert report.counts == {"control": 1000, "treatment": 1000}
    assert not report.srm.mismatch
    ctr = next(r for r in report.results if r.metric == "slot_ctr")
    assert ctr.control.mean == pytest.approx(0.4) and ctr.treatment.mean == pytest.approx(0.6)
    assert ctr.effect.absolute_interval.low > 0  # sequential interval excludes zero
    assert ctr.effect.absolute_interval.low < ctr.fixed.absolute_interval.low  # and is the wider
    revenue = next(r for r in report.results if r.metric == "revenue")
    assert revenue.treatment.mean == pytest.approx(18.0)
    assert all(r.adjusted_p >= r.effect.p_value for r in report.results if r.effect)


def test_a_broken_split_is_a_blocking_banner_that_shows_where_it_broke(staff_client):
    experiment = started()
    exposed(experiment, "control", 1040)
    exposed(experiment, "control", 60, web=False)
    exposed(experiment, "treatment", 700)
    exposed(experiment, "treatment", 200, web=False)  # where the split broke
    response = staff_client.get(reverse("admin:experiments_experiment_report", args=[experiment.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Sample-ratio mismatch" in body
    assert "Each treatment against control" not in body  # the results are withheld
    report = response.context["report"]
    assert report.srm.mismatch
    assert report.srm_breakdown["server only (ad blocker or bot)"].mismatch


def test_the_report_renders_without_events_and_exports_csv(staff_client):
    experiment = started()
    url = reverse("admin:experiments_experiment_report", args=[experiment.pk])
    assert "No events for this metric yet" in staff_client.get(url).content.decode()
    exposed(experiment, "control", 50, then=[("add_to_cart", {})])
    exposed(experiment, "treatment", 50)
    response = staff_client.get(url, {"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {row["metric"] for row in rows} == {"slot_ctr", "revenue", "conversion"}
    assert all(row["control_n"] == "50" for row in rows)


def test_order_value_is_revenue_over_orders_with_the_visitor_as_unit():
    experiment = started(guardrails=["aov"])

    def order(value):
        return ("purchase", {"transaction_id": str(uuid.uuid4()), "value": value})

    exposed(experiment, "control", 10, then=[order(20.0), order(40.0)])  # one buyer's two baskets
    exposed(experiment, "control", 10, then=[order(60.0)])
    exposed(experiment, "control", 30)
    exposed(experiment, "treatment", 20, then=[order(50.0)])
    exposed(experiment, "treatment", 30)
    report = experiment_report(experiment=experiment)
    aov = next(r for r in report.results if r.metric == "aov")
    assert aov.control.n == 50 and aov.control.denominator == 30  # visitors, orders
    assert aov.control.mean == pytest.approx((10 * 60 + 10 * 60) / 30)
    assert aov.treatment.mean == pytest.approx(50.0)
    assert aov.effect.absolute == pytest.approx(10.0)
