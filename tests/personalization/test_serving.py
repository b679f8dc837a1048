"""Slots on real pages: trained models, live profiles, filters, fallbacks, attribution, Redis budget."""

import numpy as np
import pytest
from django.urls import reverse

from personalization.models import ModelVersion, SlotConfig
from personalization.serving import slot_configs_ensure, slots_publish
from personalization.serving.stages import Candidate, PageFill, Stage
from personalization.training import model_train
from shop.keyspace import catalog_version_key
from tests.factories.catalog import ProductFactory
from tests.factories.tracking import RawEventFactory

pytestmark = pytest.mark.django_db


def _slot_products(response, slot):
    block = response.context["slots"].get(slot)
    return [product.title for product in block.products] if block else []


def test_product_page_shows_what_others_bought_with_it(client, shop_with_history):
    response = client.get(shop_with_history["teapot"].get_absolute_url())
    also = _slot_products(response, "product_also_bought")
    assert also[:2] and set(also[:2]) == {"Cups", "Saucers"}
    assert "Teapot" not in also
    body = response.content.decode()
    assert 'data-slot="product_also_bought"' in body
    assert 'data-algorithm="itemknn"' in body
    assert 'data-position="1"' in body


def test_a_view_changes_the_next_home_page(client, shop_with_history):
    client.post(reverse("tracking:consent"), {"choice": "granted"})
    before = _slot_products(client.get(reverse("home")), "home_recommended")
    client.post(
        reverse("tracking:collect"),
        data={"events": [RawEventFactory(name="view_item", product_id=shop_with_history["spade"].pk)]},
        content_type="application/json",
        HTTP_ORIGIN="http://testserver",
    )
    response = client.get(reverse("home"))
    after = _slot_products(response, "home_recommended")
    assert after != before
    # What goes best with the spade leads the shelf built from it, and is not repeated below it.
    assert _slot_products(response, "home_because_viewed")[0] == "Rake"
    assert "Rake" not in after


def test_slots_leave_out_sold_out_bought_and_carted_products_and_stay_full(client, shop_with_history):
    shop_with_history["cups"].stock = 0
    shop_with_history["cups"].save(update_fields=["stock"])
    client.post(reverse("tracking:consent"), {"choice": "granted"})
    client.post(reverse("orders:cart_add"), {"product_id": shop_with_history["saucers"].pk, "quantity": 1})
    response = client.get(shop_with_history["teapot"].get_absolute_url())
    also = _slot_products(response, "product_also_bought")
    assert "Cups" not in also and "Saucers" not in also and "Teapot" not in also
    assert len(also) == SlotConfig.objects.get(slot="product_also_bought").size


def test_slots_fill_without_any_trained_model(client):
    ProductFactory.create_batch(10)
    response = client.get(reverse("home"))
    assert len(_slot_products(response, "home_recommended")) == 8
    assert {p.rec_algorithm for p in response.context["slots"]["home_recommended"].products} == {"newest"}


def test_a_merchandiser_setting_applies_on_the_next_page(client, shop_with_history):
    slot_configs_ensure()
    SlotConfig.objects.filter(slot="product_also_bought").update(size=3, title="Goes well with")
    slots_publish()
    response = client.get(shop_with_history["teapot"].get_absolute_url())
    assert response.context["slots"]["product_also_bought"].title == "Goes well with"
    assert len(_slot_products(response, "product_also_bought")) == 3


def test_personalization_switched_off_shows_new_products_without_touching_redis(client, settings, shop_with_history):
    """Nothing of personalization: the one key is the catalogue's version, which every page reads."""
    settings.PERSONALIZATION_ENABLED = False
    from django_redis import get_redis_connection

    get_redis_connection("default").flushdb()
    response = client.get(shop_with_history["teapot"].get_absolute_url())
    assert response.status_code == 200
    shelves = response.context["slots"]
    assert {block.algorithm for block in shelves.values()} == {"newest"}
    assert shelves["product_also_bought"].title == "New in"
    assert "Teapot" not in _slot_products(response, "product_also_bought")
    assert get_redis_connection("default").keys() == [catalog_version_key().encode()]


def test_a_slot_switched_off_stays_off_with_personalization_off(client, settings, shop_with_history):
    slot_configs_ensure()
    SlotConfig.objects.filter(slot="product_similar").update(is_active=False)
    settings.PERSONALIZATION_ENABLED = False
    shelves = client.get(shop_with_history["teapot"].get_absolute_url()).context["slots"]
    assert set(shelves) == {"product_also_bought"}


def test_a_product_page_makes_at_most_two_redis_round_trips(client, shop_with_history, redis_round_trips):
    client.post(reverse("tracking:consent"), {"choice": "granted"})
    client.get(reverse("home"))  # warm the model snapshots
    writes = redis_round_trips
    writes.clear()
    response = client.get(shop_with_history["teapot"].get_absolute_url())
    assert response.status_code == 200
    assert response.context["slots"]
    assert len(writes) <= 2, f"{len(writes)} round trips"


def test_a_new_version_serves_on_the_next_page_and_a_failed_one_changes_nothing(client, settings, shop_with_history):
    serving = ModelVersion.objects.get(name="itemknn", is_active=True)
    settings.RECOMMENDER_PARAMS = {"itemknn": {"k": 0}}
    with pytest.raises(ValueError, match="k must be at least 1"):
        model_train(name="itemknn")
    settings.RECOMMENDER_PARAMS = {}
    assert ModelVersion.objects.get(name="itemknn", is_active=True) == serving
    assert ModelVersion.objects.filter(name="itemknn", status="failed").exists()
    newer = model_train(name="itemknn")
    assert ModelVersion.objects.get(name="itemknn", is_active=True) == newer
    assert client.get(shop_with_history["teapot"].get_absolute_url()).context["slots"]["product_also_bought"].products


class PinFirst(Stage):
    """A merchandiser's pin as a stage: one product first on the also-bought shelf."""

    name = "pin"
    product_id: int | None = None

    def apply(self, page: PageFill) -> None:
        for fill in page.slots:
            if fill.slot.name == "product_also_bought" and self.product_id is not None:
                fill.candidates.insert(0, Candidate(product_id=self.product_id, algorithm="pinned"))
                fill.note(self, f"pinned product {self.product_id}")


PIN_STAGES = [
    "personalization.serving.stages.ModelCandidates",
    "tests.personalization.test_serving.PinFirst",
    "personalization.serving.stages.SellableFilter",
    "personalization.serving.stages.Diversity",
    "personalization.serving.stages.Fallback",
    "personalization.serving.stages.Exploration",
]


def test_a_stage_added_by_configuration_changes_the_shelf_and_later_stages_still_apply(
    client, settings, shop_with_history, monkeypatch
):
    rake = shop_with_history["rake"]
    monkeypatch.setattr(PinFirst, "product_id", rake.pk)
    settings.PERSONALIZATION_SLOT_STAGES = PIN_STAGES
    response = client.get(shop_with_history["teapot"].get_absolute_url())
    also = response.context["slots"]["product_also_bought"]
    assert also.products[0] == rake and also.products[0].rec_algorithm == "pinned"
    stages = [step.stage for step in also.trace]
    assert stages.index("pin") > stages.index("candidates")
    assert 'data-algorithm="pinned"' in response.content.decode()
    # The filters run after the pin: a sold-out pinned product is not shown.
    rake.stock = 0
    rake.save(update_fields=["stock"])
    also = client.get(shop_with_history["teapot"].get_absolute_url()).context["slots"]["product_also_bought"]
    assert rake not in also.products
    assert any(step.stage == "filters" and "sold out" in step.note for step in also.trace)


def test_staff_see_which_stage_chose_what_and_shoppers_do_not(client, shop_with_history):
    from tests.factories.accounts import StaffFactory, UserFactory

    url = shop_with_history["teapot"].get_absolute_url()
    client.force_login(UserFactory())
    assert "Why these products" not in client.get(url).content.decode()
    client.force_login(StaffFactory())
    body = client.get(url).content.decode()
    assert "Why these products (staff only)" in body
    assert "<strong>candidates</strong>" in body and "from itemknn" in body


def test_hybrid_is_one_blend_whether_fitted_whole_or_composed_of_parts_fitted_apart():
    from personalization.recommenders.base import Interactions, Taste
    from personalization.recommenders.hybrid import PARTS, Hybrid
    from personalization.recommenders.registry import algorithm

    users = np.array(["a", "a", "b", "b", "c", "c", "d"])
    items = np.array([1, 2, 1, 2, 3, 4, 4])
    data = Interactions.from_triples(users, items, np.ones(len(users)))
    weights = {"collaborative": 1.0, "content": 0.0, "recency": 0.0, "popularity": 0.5}
    whole = Hybrid(weights=weights).fit(data)
    parts = {part: algorithm(PARTS[part])().fit(data) for part in ("collaborative", "popularity")}
    composed = Hybrid.compose(parts, weights=weights)
    taste = Taste(history={1: 1.0}, recent=(1,))
    assert np.allclose(whole.score_taste(taste), composed.score_taste(taste))
    # A part trained later knows a product the others do not: the blend meets it by id.
    later = Interactions.from_triples(np.append(users, "e"), np.append(items, 5), np.ones(len(users) + 1))
    parts["popularity"] = algorithm("trending")().fit(later)
    scores = Hybrid.compose(parts, weights=weights).score_taste(taste)
    assert len(scores) == data.n_items


def test_admin_offers_hybrid_once(staff_client):
    slot_configs_ensure()
    config = SlotConfig.objects.get(slot="home_recommended")
    body = staff_client.get(reverse("admin:personalization_slotconfig_change", args=[config.pk])).content.decode()
    assert body.count('value="hybrid"') == 1
