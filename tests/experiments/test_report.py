"""The report: metrics per variant from the event record, the SRM banner, the CSV export."""

import csv
import io
import random
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from experiments.selectors import experiment_report, experiment_units
from experiments.services import experiment_start, experiment_stop
from tests.factories.experiments import ab_experiment
from tests.factories.tracking import EventFactory
from tracking.models import Event

pytestmark = pytest.mark.django_db


def exposed(experiment, variant: str, count: int, *, then=(), web=True, before=(), at=None, device=None):
    """count visitors exposed to variant at at (a minute after the start unless said), each doing
    the events in then a minute after exposure (and those in before, 30 s or a given timedelta
    before it), as (name, properties) pairs."""
    seen = at or experiment.started_at + timedelta(minutes=1)
    rows = []
    for _ in range(count):
        visitor = uuid.uuid4()
        props = {"experiment": str(experiment.pk), "variant": variant, "day": 1, "slot": experiment.slot}
        rows.append(EventFactory.build(visitor_id=visitor, name="experiment_exposure", source="server",
                                       properties=props, client_ts=seen))  # fmt: skip
        if web:
            rows.append(EventFactory.build(visitor_id=visitor, name="page_view", client_ts=seen,
                                           properties={"device": device} if device else {}))  # fmt: skip
        for name, properties in then:
            rows.append(EventFactory.build(visitor_id=visitor, name=name, properties=properties,
                                           client_ts=seen + timedelta(minutes=1)))  # fmt: skip
        for name, properties, *earlier in before:
            rows.append(EventFactory.build(visitor_id=visitor, name=name, properties=properties,
                                           client_ts=seen - (earlier or [timedelta(seconds=30)])[0]))  # fmt: skip
    Event.objects.bulk_create(rows)


def started(*, at=None, **fields):
    """A running A/B test, started at at (an hour ago unless said)."""
    with time_machine.travel(at or timezone.now() - timedelta(hours=1), tick=False):
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


def purchase(value: float) -> tuple[str, dict]:
    return ("purchase", {"transaction_id": str(uuid.uuid4()), "value": value})


def test_revenue_per_visitor_is_cuped_adjusted_by_the_pre_period_and_shows_the_variance_removed(staff_client):
    """Shoppers who spent before they saw the experiment spend alike after it: the pre-period
    explains most of the post-exposure spread, so CUPED's interval is the narrower one."""
    experiment = started(primary_metric="revenue", guardrails=[])
    rng = random.Random(5)
    for variant, lift in (("control", 0.0), ("treatment", 5.0)):
        for _ in range(150):
            habit = rng.choice([0.0, 20.0, 60.0, 120.0])
            before = [purchase(habit)] if habit else []
            spent = max(0.0, habit + lift + rng.gauss(0, 5))
            exposed(experiment, variant, 1, before=before, then=[purchase(spent)] if spent else [])
    # a purchase older than the pre-period is not the covariate
    exposed(experiment, "control", 1, before=[(*purchase(999.0), timedelta(days=40))])
    report = experiment_report(experiment=experiment)
    revenue = next(r for r in report.results if r.metric == "revenue")
    assert revenue.variance_reduction > 0.9
    adjusted, raw = revenue.effect.absolute_interval, revenue.unadjusted.absolute_interval
    assert adjusted.high - adjusted.low < 0.5 * (raw.high - raw.low)
    assert adjusted.low < 5.0 < adjusted.high
    assert revenue.control.n == 151 and revenue.control.pre_total == pytest.approx(
        sum(u.pre_revenue for u in experiment_units(experiment=experiment).values() if u.variant == "control")
    )
    assert max(u.pre_revenue for u in experiment_units(experiment=experiment).values()) == 120.0
    body = staff_client.get(reverse("admin:experiments_experiment_report", args=[experiment.pk])).content.decode()
    assert f"removed {round(100 * revenue.variance_reduction)}% of the lift's variance" in " ".join(body.split())


def test_a_stopped_experiment_counts_nothing_after_it_stopped(staff_client):
    start = timezone.now() - timedelta(days=10)
    experiment = started(at=start)
    exposed(experiment, "control", 30, then=[purchase(10.0)])
    exposed(experiment, "treatment", 30, then=[purchase(10.0)])
    with time_machine.travel(start + timedelta(days=3), tick=False):
        experiment = experiment_stop(experiment=experiment)
    after = start + timedelta(days=4)
    exposed(experiment, "treatment", 500, at=after)  # exposed after the stop: not in the report
    Event.objects.bulk_create(
        EventFactory.build(visitor_id=event.visitor_id, name="purchase", client_ts=after,
                           properties={"transaction_id": str(uuid.uuid4()), "value": 1000.0})
        for event in Event.objects.filter(name="experiment_exposure", occurred_at__lt=after)
    )  # fmt: skip
    report = experiment_report(experiment=experiment)
    assert report.end == experiment.stopped_at
    assert report.counts == {"control": 30, "treatment": 30}
    revenue = next(r for r in report.results if r.metric == "revenue")
    assert revenue.control.total == pytest.approx(300.0) and revenue.treatment.total == pytest.approx(300.0)
    # one point per whole day it ran, then its stop
    assert [at for at, _ in report.lift_over_time["treatment"]] == [start + timedelta(days=d) for d in (1, 2, 3)]
    page = staff_client.get(reverse("admin:experiments_experiment_report", args=[experiment.pk]))
    assert "Counts events up to" in page.content.decode()


def test_the_lift_over_time_counts_each_day_what_was_known_by_its_end():
    start = timezone.now() - timedelta(days=5)
    experiment = started(at=start, primary_metric="conversion")
    for day in range(2):
        at = start + timedelta(days=day, hours=2)
        exposed(experiment, "control", 20, at=at, then=[purchase(5.0)])
        exposed(experiment, "control", 80, at=at)
        exposed(experiment, "treatment", 40, at=at, then=[purchase(5.0)])
        exposed(experiment, "treatment", 60, at=at)
    # seen just before the third day ends, bought just after it
    exposed(experiment, "control", 100, at=start + timedelta(days=3, seconds=-30), then=[purchase(5.0)])
    lift = experiment_report(experiment=experiment).lift_over_time["treatment"]
    assert len(lift) == 6  # five whole days and now
    day_one, day_two, day_three, day_four = (effect for _, effect in lift[:4])
    assert (day_one.control_mean, day_one.treatment_mean) == pytest.approx((0.2, 0.4))
    assert (day_two.control_mean, day_two.treatment_mean) == pytest.approx((0.2, 0.4))
    # the interval narrows as visitors come in
    assert day_two.absolute_interval.high - day_two.absolute_interval.low < (
        day_one.absolute_interval.high - day_one.absolute_interval.low
    )
    assert day_three.control_mean == pytest.approx(40 / 300)
    assert day_four.control_mean == pytest.approx(140 / 300)
    assert lift[-1][1] == day_four  # nothing happened after the fourth day


def test_the_report_charts_the_cumulative_lift_and_breaks_the_primary_metric_down_by_device(staff_client):
    start = timezone.now() - timedelta(days=3)
    experiment = started(at=start)
    click = ("select_item", {"slot": "home_recommended"})
    for day in range(3):
        at = start + timedelta(days=day, hours=1)
        exposed(experiment, "control", 60, at=at, then=[click], device="mobile")
        exposed(experiment, "control", 140, at=at, device="mobile")
        exposed(experiment, "treatment", 90, at=at, then=[click], device="mobile")
        exposed(experiment, "treatment", 110, at=at, device="mobile")
        exposed(experiment, "control", 50, at=at, then=[click], device="desktop")
        exposed(experiment, "treatment", 50, at=at, then=[click], device="desktop")
        exposed(experiment, "control", 20, at=at, web=False)  # server only: no device said
        exposed(experiment, "treatment", 20, at=at, web=False)
    response = staff_client.get(reverse("admin:experiments_experiment_report", args=[experiment.pk]))
    report, body = response.context["report"], " ".join(response.content.decode().split())
    (chart,) = response.context["lift_charts"]
    assert "Cumulative lift of treatment over control" in chart and "chart-band" in chart
    assert len(report.lift_over_time["treatment"]) == 4  # three whole days and now
    mobile, desktop, unknown = (report.by_device[d][0] for d in ("mobile", "desktop", "not recorded"))
    assert (mobile.control.mean, mobile.treatment.mean) == pytest.approx((0.3, 0.45))
    assert (desktop.control.n, desktop.control.mean) == (150, 1.0)
    assert unknown.control.n == 60
    assert report.srm_breakdown["device: mobile"].p_value > 0.5
    assert report.device_recorded == pytest.approx(1 - 120 / 1620)
    assert "93% of exposed visitors' events said their device" in body


def test_session_length_is_seconds_per_session_after_exposure_with_the_visitor_as_unit(staff_client):
    """A visitor's sessions are the tracker's session ids; each is as long as from its first to its
    last event after exposure, and a variant's figure is all its sessions' seconds over their number."""
    experiment = started(primary_metric="session_length", guardrails=[])
    seen = experiment.started_at + timedelta(minutes=1)

    def visitor(variant: str, *sessions: list[int], before: int = 0) -> None:
        """A visitor exposed at seen, then in each session events at these seconds after it."""
        visitor_id = uuid.uuid4()
        props = {"experiment": str(experiment.pk), "variant": variant, "day": 1}
        rows = [EventFactory.build(visitor_id=visitor_id, name="experiment_exposure", source="server",
                                   session_id=None, properties=props, client_ts=seen)]  # fmt: skip
        for seconds in sessions:
            session = uuid.uuid4()
            if before:  # the session began before the visitor saw the experiment: that part is not its
                rows.append(EventFactory.build(visitor_id=visitor_id, name="page_view", session_id=session,
                                               client_ts=seen - timedelta(seconds=before)))  # fmt: skip
            rows += [EventFactory.build(visitor_id=visitor_id, name="page_view", session_id=session,
                                        client_ts=seen + timedelta(seconds=s)) for s in seconds]  # fmt: skip
        Event.objects.bulk_create(rows)

    for _ in range(30):
        visitor("control", [1, 61], before=600)  # 60 s after exposure
        visitor("control", [5])  # one page: 0 s
        visitor("treatment", [1, 181], [400, 460, 640])  # 180 s and 240 s
    report = experiment_report(experiment=experiment)
    (length,) = report.results
    assert length.control.denominator == 60 and length.treatment.denominator == 60  # sessions
    assert length.control.mean == pytest.approx(30.0) and length.treatment.mean == pytest.approx(210.0)
    assert length.effect.absolute == pytest.approx(180.0) and length.effect.absolute_interval.low > 0
    page = staff_client.get(reverse("admin:experiments_experiment_report", args=[experiment.pk]))
    assert "Session length (seconds per session) (primary)" in " ".join(page.content.decode().split())
