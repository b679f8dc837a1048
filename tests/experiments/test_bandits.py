"""Bandits: shares updated from the record on beat's cadence and published, arms drawn by them on
pages with the chance recorded, and the report's inverse-propensity estimates."""

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from experiments.assignment import published_read
from experiments.selectors import bandit_report
from experiments.services import experiment_start, experiments_publish
from experiments.tasks import bandits_update_task
from shop.keyspace import experiments_key, redis_client, utc_day
from tests.factories.experiments import ExperimentFactory, VariantFactory
from tests.factories.tracking import EventFactory
from tests.personalization.shelves import trained_shop
from tracking.models import Event
from tracking.owners import owner_key

pytestmark = pytest.mark.django_db


def bandit(**fields):
    """A running bandit on the home shelf: the slot as configured against popularity."""
    with time_machine.travel(timezone.now() - timedelta(hours=2), tick=False):
        experiment = ExperimentFactory(mode="bandit", split_percent=20, min_share=10, **fields)
        VariantFactory(experiment=experiment, key="configured", is_control=True, weight=50)
        VariantFactory(experiment=experiment, key="popular", weight=50, kind="algorithm", algorithm="popularity")
        return experiment_start(experiment=experiment)


def exposed(experiment, variant, count, *, clicks, policy="bandit", propensity=0.5):
    """count exposures of variant (an hour ago), the first clicks of them followed by a slot click."""
    seen = timezone.now() - timedelta(hours=1)
    rows = []
    for index in range(count):
        visitor = uuid.uuid4()
        props = {"experiment": str(experiment.pk), "variant": variant, "day": 1, "slot": experiment.slot,
                 "policy": policy, "propensity": propensity, "mark": f"{experiment.pk}/{variant}"}  # fmt: skip
        rows.append(EventFactory.build(visitor_id=visitor, name="experiment_exposure", source="server",
                                       properties=props, client_ts=seen))  # fmt: skip
        if index < clicks:
            rows.append(EventFactory.build(visitor_id=visitor, name="select_item", properties={"slot": experiment.slot},
                                           client_ts=seen + timedelta(minutes=1)))  # fmt: skip
    Event.objects.bulk_create(rows)


def published():
    return {e.id: e for e in published_read(redis_client().get(experiments_key()))}


def test_the_update_moves_traffic_to_the_arm_that_earns_clicks_and_pages_read_it_published(
    django_capture_on_commit_callbacks,
):
    experiment = bandit()
    exposed(experiment, "configured", 400, clicks=20)
    exposed(experiment, "popular", 400, clicks=60)
    with django_capture_on_commit_callbacks(execute=True):
        assert bandits_update_task() == 1
    experiment.refresh_from_db()
    assert experiment.bandit_shares == {"configured": pytest.approx(0.1, abs=0.01), "popular": pytest.approx(0.9)}
    assert experiment.bandit_updated_at is not None
    assert published()[experiment.pk].shares == experiment.bandit_shares
    schedule = settings.CELERY_BEAT_SCHEDULE["experiments-bandits-update"]
    assert schedule["task"] == "experiments.tasks.bandits_update_task"
    assert schedule["schedule"] == settings.EXPERIMENTS_BANDIT_UPDATE_MINUTES * 60


def test_a_click_counts_for_the_exposure_before_it_within_a_day_only():
    experiment = bandit()
    exposed(experiment, "popular", 10, clicks=0)
    late = Event.objects.filter(name="experiment_exposure").first()
    EventFactory(visitor_id=late.visitor_id, name="select_item", properties={"slot": "product_similar"},
                 client_ts=late.occurred_at + timedelta(minutes=5))  # another slot  # fmt: skip
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        EventFactory(visitor_id=late.visitor_id, name="select_item", properties={"slot": experiment.slot},
                     client_ts=timezone.now())  # two days later  # fmt: skip
        assert bandit_report(experiment=experiment).arms[1].clicks == 0
    EventFactory(visitor_id=late.visitor_id, name="select_item", properties={"slot": experiment.slot},
                 client_ts=late.occurred_at + timedelta(minutes=50))  # fmt: skip
    assert bandit_report(experiment=experiment).arms[1].clicks == 1


def test_a_page_shows_the_drawn_arm_and_records_the_chance_it_had(client):
    trained_shop()
    experiment = bandit()
    experiment.bandit_shares = {"configured": 0.25, "popular": 0.75}
    experiment.save(update_fields=["bandit_shares"])
    test = next(e for e in experiments_publish() if e.id == experiment.pk)
    today = utc_day(timezone.now())
    visitor = next(
        v for v in (uuid.uuid4() for _ in range(500))
        if (p := test.place(owner_key(user_id=None, visitor_id=v), day=today)).policy == "bandit"
        and p.variant.key == "popular"
    )  # fmt: skip
    client.post(reverse("tracking:consent"), {"choice": "granted"})
    client.cookies["ll_vid"] = str(visitor)
    block = client.get(reverse("home")).context["slots"]["home_recommended"]
    assert block.algorithm == "popularity"
    assert any("bandit arm at 75%" in step.note for step in block.trace)
    (exposure,) = Event.objects.filter(name="experiment_exposure")
    assert exposure.properties | {"day": 0} == {
        "experiment": str(experiment.pk), "variant": "popular", "slot": "home_recommended", "day": 0,
        "policy": "bandit", "propensity": 0.75, "mark": f"{experiment.pk}/popular",
    }  # fmt: skip


def test_the_report_weighs_each_exposure_by_its_chance_and_compares_the_bandit_with_the_fixed_split(staff_client):
    experiment = bandit()
    exposed(experiment, "configured", 100, clicks=10, propensity=0.8)
    exposed(experiment, "popular", 25, clicks=5, propensity=0.2)
    exposed(experiment, "configured", 50, clicks=4, policy="split")
    exposed(experiment, "popular", 50, clicks=6, policy="split")
    report = bandit_report(experiment=experiment)
    configured, popular = report.arms
    assert configured.ipw.mean == pytest.approx(10 / 0.8 / 125) and popular.ipw.mean == pytest.approx(5 / 0.2 / 125)
    assert (configured.naive, popular.naive) == (0.1, 0.2)
    assert (popular.split.n, popular.split.total) == (50, 6)
    assert (report.bandit.n, report.split.n) == (125, 100) and report.effect is not None
    page = staff_client.get(reverse("admin:experiments_experiment_report", args=[experiment.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "inverse-propensity weighted" in html and "0.2000" in html
    # the A/B tables count the fixed split alone
    assert "n 50" in html and "n 125" in html


def test_a_bandit_that_cannot_keep_each_arms_minimum_or_shows_generic_lists_does_not_start():
    experiment = ExperimentFactory(mode="bandit", min_share=40)
    VariantFactory(experiment=experiment, key="a", is_control=True, weight=34)
    VariantFactory(experiment=experiment, key="b", weight=33)
    VariantFactory(experiment=experiment, key="c", weight=33, kind="newest")
    with pytest.raises(ValidationError) as error:
        experiment_start(experiment=experiment)
    assert any("minimum share" in m for m in error.value.messages)
    assert any("arms are the slot as configured" in m for m in error.value.messages)
