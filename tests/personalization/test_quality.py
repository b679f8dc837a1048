"""Every trained version carries its offline quality on the run's held-out last days, beside
popularity's on the same shoppers, and says why when there is none."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from personalization import quality
from personalization.evaluation.protocol import LOG_COLUMNS
from personalization.models import ModelVersion
from personalization.recommenders.itemknn import ItemKNN
from personalization.tasks import model_retrain
from personalization.training import model_train
from tests.factories.catalog import ProductFactory
from tests.factories.tracking import EventFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
CLIQUES, CLIQUE_SIZE, SHOPPERS_PER_TURN = 8, 3, 2


def _cart(visitor, product, when):
    EventFactory(visitor_id=visitor, name="add_to_cart", source="server", product_id=product.pk, occurred_at=when)


def _cliques_log() -> int:
    """Eight trios of products carted together, nothing else shared: each shopper carts two of a
    trio in the first week and comes back for the third on the last day (whose turn it is to be
    the third rotates, so every pair of a trio is seen in the first week). Returns the shoppers."""
    trios = [ProductFactory.create_batch(CLIQUE_SIZE) for _ in range(CLIQUES)]
    shoppers = 0
    for trio in trios:
        for turn in range(CLIQUE_SIZE):
            for copy in range(SHOPPERS_PER_TURN):
                visitor = uuid.uuid4()
                first, second = (product for place, product in enumerate(trio) if place != turn)
                _cart(visitor, first, NOW - timedelta(days=10, hours=turn + copy))
                _cart(visitor, second, NOW - timedelta(days=7, hours=turn + copy))
                _cart(visitor, trio[turn], NOW - timedelta(hours=6 + turn + copy))
                shoppers += 1
    return shoppers


def test_a_retrain_stores_each_models_quality_beside_popularitys_on_the_same_shoppers(capsys):
    shoppers = _cliques_log()
    with time_machine.travel(NOW):
        call_command("retrain")
    said = capsys.readouterr().out
    versions = {version.name: version for version in ModelVersion.objects.filter(is_active=True)}
    assert set(versions) == set(settings.RECOMMENDER_SERVED)
    for version in versions.values():
        assert version.quality["status"] == "measured", version.quality
        assert version.quality["users"] == shoppers
        assert version.quality["split"] == "time"
    itemknn, popularity = versions["itemknn"].quality, versions["popularity"].quality
    # Every shopper's third product is the one the other two were carted with.
    assert itemknn["metrics"]["ndcg@10"] > 0.9
    assert popularity["metrics"]["ndcg@10"] < itemknn["metrics"]["ndcg@10"] - 0.3
    assert itemknn["baseline"]["metrics"] == popularity["metrics"]  # the same run, the same shoppers
    assert itemknn["baseline"]["ndcg@10_difference"] > 0 and not itemknn["baseline"]["tie"]
    assert "baseline" not in popularity
    pop = popularity["metrics"]["ndcg@10"]
    assert f"NDCG@10 1.000 on {shoppers} held-out shoppers (popularity {pop:.3f})" in said


def test_the_training_task_stores_quality_too():
    shoppers = _cliques_log()
    with time_machine.travel(NOW):
        pk = model_retrain("itemknn")
    measured = ModelVersion.objects.get(pk=pk).quality
    assert measured["status"] == "measured" and measured["users"] == shoppers
    assert measured["baseline"]["name"] == "popularity"


def test_the_admin_lists_and_details_quality_in_words(staff_client):
    shoppers = _cliques_log()
    with time_machine.travel(NOW):
        for name in ("popularity", "itemknn"):
            model_train(name=name)
    version = ModelVersion.objects.get(name="itemknn")
    figures = version.quality["metrics"]
    pop = version.quality["baseline"]["metrics"]["ndcg@10"]
    listing = staff_client.get(reverse("admin:personalization_modelversion_changelist")).content.decode()
    assert f"NDCG@10 {figures['ndcg@10']:.3f} on {shoppers} held-out shoppers (popularity {pop:.3f})" in listing
    assert "NDCG@10 of each serving version on its held-out shoppers" in listing
    popularity = ModelVersion.objects.get(name="popularity")
    bars = [f"itemknn v{version.pk} ({shoppers} shoppers)", f"popularity v{popularity.pk} ({shoppers} shoppers)"]
    assert listing.index(bars[0]) < listing.index(bars[1])  # best first
    page = staff_client.get(reverse("admin:personalization_modelversion_change", args=[version.pk])).content.decode()
    assert "NDCG@10 on the same held-out shoppers" in page
    assert f"hit rate@10 {figures['hr@10']:.1%}" in page
    first, last = NOW - timedelta(days=10, hours=3), NOW - timedelta(hours=6)
    assert f"every event after {first + 0.8 * (last - first):%d %b %Y %H:%M} UTC" in page
    assert "Popularity on the same shoppers" in page and "ahead of popularity by" in page
    assert "below 100, read it as noise" in page  # 48 shoppers cannot make 100 hits
    assert "Measuring took" in page


def test_the_held_out_shoppers_are_a_fixed_sample_when_there_are_many(monkeypatch, staff_client):
    shoppers = _cliques_log()
    monkeypatch.setattr(quality, "QUALITY_MAX_USERS", 30)
    with time_machine.travel(NOW):
        first, second = model_train(name="itemknn"), model_train(name="itemknn")
    assert first.quality["users"] == 30 and first.quality["eligible_users"] == shoppers
    assert first.quality["metrics"] == second.quality["metrics"]  # the same sample both times
    page = staff_client.get(reverse("admin:personalization_modelversion_change", args=[first.pk])).content.decode()
    assert f"a fixed sample of 30 of the {shoppers} who qualified" in page


def test_a_log_too_small_to_hold_out_from_says_so_instead_of_a_number(staff_client):
    products = ProductFactory.create_batch(3)
    for hours in range(3):
        visitor = uuid.uuid4()
        _cart(visitor, products[0], NOW - timedelta(days=5, hours=hours))
        _cart(visitor, products[hours % 2 + 1], NOW - timedelta(hours=hours))
    with time_machine.travel(NOW):
        version = model_train(name="itemknn")
    assert ModelVersion.objects.get(name="itemknn", is_active=True) == version
    assert version.quality["status"] == "too_little"
    listing = staff_client.get(reverse("admin:personalization_modelversion_changelist")).content.decode()
    assert "not enough data to measure: only 3 shopper(s) came back" in listing
    assert not re.search(r"NDCG@10 \d", listing)  # no figure, not even a tiny one


def test_a_log_without_events_says_there_was_nothing_to_hold_out():
    empty = pd.DataFrame({column: [] for column in LOG_COLUMNS})
    measured = quality.version_quality(name="itemknn", log=empty)
    assert measured["status"] == "too_little"
    assert quality.quality_summary(measured) == "not enough data to measure: no events in the training window"


def test_a_version_whose_measuring_fails_still_serves_and_says_why(monkeypatch, staff_client):
    _cliques_log()

    def broken(**kwargs):
        raise RuntimeError("the held-out split broke")

    monkeypatch.setattr(quality, "evaluation_run", broken)
    with time_machine.travel(NOW):
        version = model_train(name="itemknn")
    assert ModelVersion.objects.get(name="itemknn", is_active=True) == version and version.artifact
    listing = staff_client.get(reverse("admin:personalization_modelversion_changelist")).content.decode()
    assert "not measured: RuntimeError: the held-out split broke" in listing


def test_a_model_that_fails_on_the_held_out_part_only_still_serves_and_says_why(monkeypatch):
    _cliques_log()
    fit = ItemKNN.fit

    def fit_all_but_the_train_part(self, data):
        # The served fit reads the event record (it counts events); the held-out fit reads a log.
        if not data.events_used:
            raise ZeroDivisionError("no neighbours")
        return fit(self, data)

    monkeypatch.setattr(ItemKNN, "fit", fit_all_but_the_train_part)
    with time_machine.travel(NOW):
        version = model_train(name="itemknn")
    assert ModelVersion.objects.get(name="itemknn", is_active=True) == version
    assert version.quality["status"] == "failed"
    assert quality.quality_summary(version.quality) == "not measured: ZeroDivisionError: no neighbours"


def test_versions_that_never_reached_measuring_say_why(staff_client):
    from tests.factories.personalization import ModelVersionFactory

    ModelVersionFactory(name="itemknn", status=ModelVersion.Status.FAILED, is_active=False)
    ModelVersionFactory(name="content", status=ModelVersion.Status.TRAINING, is_active=False)
    listing = staff_client.get(reverse("admin:personalization_modelversion_changelist")).content.decode()
    assert "not measured: the training failed" in listing
    assert "measured once training ends" in listing
