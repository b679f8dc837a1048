"""Personalized against generic on the simulator's personas, through real assignment, pages,
exposures, ingest and the report."""

import io

import pytest
from django.core.management import CommandError, call_command

from experiments.personas import GENERIC, PERSONALIZED, personas_trial
from tests.factories.catalog import ProductFactory
from tests.personalization.shelves import trained_shop
from tracking.models import Event

pytestmark = pytest.mark.django_db


def test_simulated_shoppers_are_placed_shown_their_variant_exposed_and_counted_by_the_report():
    shop = trained_shop()
    trial = personas_trial(visitors=18, seed=3)
    experiment = trial.experiment
    assert experiment.status == "stopped" and experiment.slot == "home_recommended"
    exposures = Event.objects.filter(name="experiment_exposure", properties__experiment=str(experiment.pk))
    variant_of = {e.visitor_id: e.properties["variant"] for e in exposures}
    assert exposures.count() == len(variant_of) == 18  # once each: their sessions fall on one day
    assert set(variant_of.values()) == {GENERIC, PERSONALIZED}
    assert trial.counts == {v: list(variant_of.values()).count(v) for v in (GENERIC, PERSONALIZED)}
    # a shopper's clicks on the home shelf are on what their own page showed
    clicks = Event.objects.filter(name="select_item", properties__slot="home_recommended", visitor_id__in=variant_of)
    assert clicks.exists()
    # what a cold visitor's generic shelf shows here: popularity has too little to rank, so the
    # shelf's fallback fills it with the eight newest products
    cold_shelf = {p.pk for p in sorted(shop, key=lambda p: p.created_at, reverse=True)[:8]}
    first_session = {}
    for event in Event.objects.filter(visitor_id__in=variant_of, name="page_view").order_by("occurred_at"):
        first_session.setdefault(event.visitor_id, event.session_id)
    algorithms = {GENERIC: set(), PERSONALIZED: set()}
    for click in clicks:
        algorithms[variant_of[click.visitor_id]].add(click.properties["algorithm"])
        if variant_of[click.visitor_id] == GENERIC and click.session_id == first_session[click.visitor_id]:
            assert click.product_id in cold_shelf
    assert algorithms[GENERIC] == {"popularity"}
    assert algorithms[PERSONALIZED] and "popularity" not in algorithms[PERSONALIZED]
    ctr, conversion = trial.results
    assert (ctr.metric, conversion.metric) == ("slot_ctr", "conversion")
    assert ctr.control.n + ctr.treatment.n == 18
    clicked = {c.visitor_id for c in clicks}
    assert ctr.control.total + ctr.treatment.total == len(clicked)  # every click came after its exposure
    assert set(trial.by_persona) <= {"bargain_hunter", "brand_loyalist", "window_shopper", "mission_shopper",
                                     "gift_explorer", "loyal_regular"}  # fmt: skip


def test_the_personas_option_refuses_what_it_cannot_do_with_a_reason():
    with pytest.raises(CommandError, match="between 10 and"):
        call_command("experiments_simulate", personas=5)
    ProductFactory()
    with pytest.raises(CommandError, match="retrain"):
        call_command("experiments_simulate", personas=10)


def test_the_command_prints_the_lift_in_click_through_and_conversion_with_its_intervals():
    trained_shop()
    out = io.StringIO()
    call_command("experiments_simulate", personas=10, seed=5, stdout=out, stderr=io.StringIO())
    text = out.getvalue()
    assert "10 exposed of 10 simulated shoppers" in text
    assert "slot_ctr: generic" in text and "conversion: generic" in text
    assert "sample ratio: chi-square p" in text and "By persona" in text
