"""Experiments on real pages: the variant a visitor is assigned is what their slot shows, and its
exposure is recorded through the ingest once a day, only where the variant was rendered."""

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from experiments.assignment import assignment_for
from experiments.selectors import experiment_units
from experiments.services import experiment_start, experiment_stop, experiments_publish
from personalization.models import SlotConfig
from personalization.serving import slots_publish
from shop.keyspace import owner_segments_key, redis_client
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.experiments import VariantFactory, ab_experiment
from tests.factories.segments import SegmentFactory
from tests.personalization.shelves import trained_shop
from tracking.models import Event
from tracking.owners import owner_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return trained_shop()


def visitor_in(experiment, variant_key: str) -> uuid.UUID:
    """A visitor id the published experiment puts in this variant."""
    published = next(e for e in experiments_publish() if e.id == experiment.pk)
    for _ in range(1000):
        visitor = uuid.uuid4()
        placed = published.variant_for(owner_key(user_id=None, visitor_id=visitor))
        if placed is not None and placed.key == variant_key:
            return visitor
    raise AssertionError("no visitor found")


def as_visitor(client, visitor: uuid.UUID):
    client.post(reverse("tracking:consent"), {"choice": "granted"})
    client.cookies["ll_vid"] = str(visitor)
    return client


def exposures():
    return list(Event.objects.filter(name="experiment_exposure").order_by("occurred_at"))


def test_the_treatment_shows_its_variant_and_says_so_and_the_exposure_is_recorded_once_a_day(client, shop):
    experiment = experiment_start(experiment=ab_experiment(treatment_kind="newest"))
    visitor = visitor_in(experiment, "treatment")
    as_visitor(client, visitor)
    block = client.get(reverse("home")).context["slots"]["home_recommended"]
    assert block.algorithm == "newest"
    assert [p.pk for p in block.products] == [p.pk for p in sorted(shop, key=lambda p: p.created_at, reverse=True)][:8]
    assert any(step.stage == "experiment" and "variant treatment" in step.note for step in block.trace)
    client.get(reverse("home"))
    client.get(reverse("home"))
    (exposure,) = exposures()
    assert exposure.visitor_id == visitor and exposure.source == "server"
    assert exposure.properties["experiment"] == str(experiment.pk)
    assert exposure.properties["variant"] == "treatment"
    assert exposure.properties["slot"] == "home_recommended"
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        client.get(reverse("home"))
    assert len(exposures()) == 2


def test_the_control_shows_the_slot_as_configured(client, shop):
    experiment = experiment_start(experiment=ab_experiment(treatment_kind="newest"))
    as_visitor(client, visitor_in(experiment, "control"))
    block = client.get(reverse("home")).context["slots"]["home_recommended"]
    assert block.algorithm != "newest"
    assert exposures()[0].properties["variant"] == "control"


def test_no_exposure_where_the_variant_is_not_rendered(client, shop):
    experiment = experiment_start(experiment=ab_experiment(slot="cart_complete"))
    as_visitor(client, visitor_in(experiment, "treatment"))
    client.get(reverse("home"))  # the home page has no cart slot
    assert exposures() == []


def test_without_consent_nobody_is_assigned_or_recorded(client, shop):
    experiment_start(experiment=ab_experiment())
    block = client.get(reverse("home")).context["slots"]["home_recommended"]
    assert not any(step.stage == "experiment" for step in block.trace)
    assert exposures() == []


def test_the_holdout_sees_generic_products_on_every_slot(client, shop, settings):
    settings.EXPERIMENTS_HOLDOUT_PERCENT = 50
    experiment_start(experiment=ab_experiment())
    visitor = next(
        v
        for v in (uuid.uuid4() for _ in range(1000))
        if assignment_for(owner=f"v:{v}", experiments=(), holdout_percent=50).holdout
    )
    as_visitor(client, visitor)
    slots = client.get(reverse("home")).context["slots"]
    assert {block.algorithm for block in slots.values()} == {"newest"}
    (exposure,) = exposures()
    assert exposure.properties["experiment"] == "holdout" and exposure.properties["variant"] == "holdout"


def test_experiments_add_no_redis_round_trip(client, shop, redis_round_trips):
    for slot in ("home_recommended", "home_trending"):
        experiment_start(experiment=ab_experiment(slot=slot, layer=slot))
    experiment = ab_experiment(slot="product_similar")
    experiment_start(experiment=experiment)
    bandit = ab_experiment(slot="home_recent", layer="bandit", mode="bandit", split_percent=1)
    bandit.bandit_shares = {"control": 0.3, "treatment": 0.7}
    bandit.save(update_fields=["bandit_shares"])
    bandit.variants.filter(key="treatment").update(kind="algorithm", algorithm="popularity")
    experiment_start(experiment=bandit)
    experiments_publish()
    as_visitor(client, uuid.uuid4())
    client.get(reverse("home"))  # records the day's exposures
    redis_round_trips.clear()
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert len(redis_round_trips) == 1, f"{len(redis_round_trips)} round trips"


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ([], "at least two variants"),
        ([{"key": "a", "is_control": True, "weight": 50}, {"key": "b", "weight": 40}], "sum to 100%"),
        ([{"key": "a", "weight": 50}, {"key": "b", "weight": 50}], "Exactly one variant"),
        (
            [{"key": "a", "is_control": True, "weight": 50}, {"key": "b", "weight": 50, "kind": "weights"}],
            "weights are parts of",
        ),
    ],
)
def test_a_badly_set_up_experiment_does_not_start_and_says_why(variants, message):
    experiment = ab_experiment()
    experiment.variants.all().delete()
    for fields in variants:
        VariantFactory(experiment=experiment, **fields)
    with pytest.raises(ValidationError, match=message):
        experiment_start(experiment=experiment)


def test_overlapping_experiments_in_one_layer_are_refused():
    experiment_start(experiment=ab_experiment(traffic_start=0, traffic_percent=60))
    with pytest.raises(ValidationError, match="may not overlap"):
        experiment_start(experiment=ab_experiment(slot="product_similar", traffic_start=50, traffic_percent=50))
    experiment_start(experiment=ab_experiment(slot="product_similar", traffic_start=60, traffic_percent=40))


def test_shipping_the_winner_makes_it_the_slots_default():
    SlotConfig.objects.all().delete()
    slots_publish()
    experiment = ab_experiment(treatment_kind="algorithm")
    treatment = experiment.variants.get(key="treatment")
    treatment.algorithm = "popularity"
    treatment.save(update_fields=["algorithm"])
    experiment_start(experiment=experiment)
    experiment_stop(experiment=experiment, winner=treatment)
    assert SlotConfig.objects.get(slot="home_recommended").algorithm == "popularity"
    experiment.refresh_from_db()
    assert experiment.status == "stopped" and experiment.winner == treatment


def test_admin_refuses_a_bad_start_with_a_message_and_locks_a_running_design(staff_client):
    experiment = ab_experiment()
    experiment.variants.filter(key="treatment").delete()
    url = reverse("admin:experiments_experiment_changelist")
    response = staff_client.post(url, {"action": "start", "_selected_action": [experiment.pk]}, follow=True)
    assert response.status_code == 200
    assert "at least two variants" in response.content.decode()
    VariantFactory(experiment=experiment, key="treatment", weight=50)
    staff_client.post(url, {"action": "start", "_selected_action": [experiment.pk]})
    experiment.refresh_from_db()
    assert experiment.status == "running"
    page = staff_client.get(reverse("admin:experiments_experiment_change", args=[experiment.pk]))
    assert page.status_code == 200
    assert 'name="primary_metric"' not in page.content.decode()


def test_a_visitor_keeps_their_variant_after_logging_in_and_counts_once(
    client, shop, django_capture_on_commit_callbacks
):
    experiment = experiment_start(experiment=ab_experiment(treatment_kind="newest"))
    published = next(e for e in experiments_publish() if e.id == experiment.pk)
    # an account whose own hash says control, and a visitor whose hash says treatment
    user = next(u for u in (UserFactory() for _ in range(50)) if published.variant_for(f"u:{u.pk}").key == "control")
    as_visitor(client, visitor_in(experiment, "treatment"))
    client.get(reverse("home"))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:login"), {"username": user.username, "password": PASSWORD})
    block = client.get(reverse("home")).context["slots"]["home_recommended"]
    assert block.algorithm == "newest"
    assert any("variant treatment" in step.note for step in block.trace)
    assert {(e.user_id, e.properties["variant"]) for e in exposures()} == {(user.pk, "treatment")}
    (unit,) = experiment_units(experiment=experiment).values()
    assert unit.variant == "treatment" and unit.signed_in


def test_an_experiment_for_a_segment_takes_only_its_members(client, shop):
    segment = SegmentFactory(slug="regulars")
    experiment = ab_experiment(treatment_kind="newest")
    experiment.segments.add(segment)
    experiment_start(experiment=experiment)
    visitor = visitor_in(experiment, "treatment")
    as_visitor(client, visitor)
    block = client.get(reverse("home")).context["slots"]["home_recommended"]
    assert block.algorithm != "newest" and exposures() == []
    redis_client().sadd(owner_segments_key(owner_key(user_id=None, visitor_id=visitor)), "regulars")
    block = client.get(reverse("home")).context["slots"]["home_recommended"]
    assert block.algorithm == "newest"
    assert [e.properties["variant"] for e in exposures()] == ["treatment"]
