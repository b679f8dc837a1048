"""Shelves say what they are and why: popular now, because you viewed, recently viewed, no empty cart's shelf."""

import pytest
from django.urls import reverse

from personalization.models import SlotConfig
from personalization.serving import slot_configs_ensure, slots_publish
from personalization.training import models_publish
from tests.factories.catalog import ProductFactory
from tests.factories.tracking import RawEventFactory

pytestmark = pytest.mark.django_db


def _view(client, *products) -> None:
    """Views as the shop's tracker sends them, oldest first."""
    client.post(
        reverse("tracking:collect"),
        data={"events": [RawEventFactory(name="view_item", product_id=product.pk) for product in products]},
        content_type="application/json",
        HTTP_ORIGIN="http://testserver",
    )


def _shelves(response) -> dict[str, tuple[str, list[str]]]:
    return {name: (block.title, [p.title for p in block.products]) for name, block in response.context["slots"].items()}


def _consenting(client):
    client.post(reverse("tracking:consent"), {"choice": "granted"})
    return client


def test_a_new_visitor_sees_a_shelf_titled_popular_now_not_recommended_for_you(client, shop_with_history):
    response = _consenting(client).get(reverse("home"))
    shelves = _shelves(response)
    assert shelves["home_recommended"][0] == "Popular now"
    assert len(shelves["home_recommended"][1]) == 8
    body = response.content.decode()
    assert "Popular now" in body and "Recommended for you" not in body
    # Nothing viewed yet: neither a recently viewed shelf nor a "because you viewed" one.
    assert "home_recent" not in shelves and "home_because_viewed" not in shelves
    _view(client, shop_with_history["teapot"])
    assert _shelves(client.get(reverse("home")))["home_recommended"][0] == "Recommended for you"


def test_a_visitor_without_consent_is_a_new_visitor_too(client, shop_with_history):
    assert _shelves(client.get(reverse("home")))["home_recommended"][0] == "Popular now"


def test_a_shelf_built_from_the_last_viewed_product_names_it(client, shop_with_history):
    _consenting(client)
    _view(client, shop_with_history["teapot"], shop_with_history["spade"])
    response = client.get(reverse("home"))
    title, products = _shelves(response)["home_because_viewed"]
    assert title == "Because you viewed Spade"
    assert products[0] == "Rake"
    assert "Spade" not in products and "Teapot" not in products
    assert "Because you viewed Spade" in response.content.decode()
    block = response.context["slots"]["home_because_viewed"]
    assert {p.rec_algorithm for p in block.products} == {"itemknn"}  # never padded with popular or newest


def test_recently_viewed_shows_the_live_profiles_views_newest_first_and_is_not_repeated_below(
    client, shop_with_history
):
    _consenting(client)
    _view(client, shop_with_history["teapot"], shop_with_history["cups"], shop_with_history["spade"])
    response = client.get(reverse("home"))
    shelves = _shelves(response)
    assert shelves["home_recent"] == ("Recently viewed", ["Spade", "Cups", "Teapot"])
    assert 'data-algorithm="recent"' in response.content.decode()
    for name, (_, products) in shelves.items():
        if name != "home_recent":
            assert not {"Spade", "Cups", "Teapot"} & set(products), name
    # A product sold out since it was viewed is left out; the shelf is not padded.
    shop_with_history["cups"].stock = 0
    shop_with_history["cups"].save(update_fields=["stock"])
    assert _shelves(client.get(reverse("home")))["home_recent"][1] == ["Spade", "Teapot"]


def test_the_cart_page_shows_complete_your_order_only_with_something_in_the_cart(client, shop_with_history):
    _consenting(client)
    empty = client.get(reverse("orders:cart"))
    assert "cart_complete" not in empty.context["slots"]
    assert "Complete your order" not in empty.content.decode()
    client.post(reverse("orders:cart_add"), {"product_id": shop_with_history["teapot"].pk, "quantity": 1})
    full = client.get(reverse("orders:cart"))
    title, products = _shelves(full)["cart_complete"]
    assert title == "Complete your order" and products
    assert "Teapot" not in products


def test_with_personalization_off_no_shelf_claims_to_be_about_the_visitor(client, settings, shop_with_history):
    _consenting(client)
    _view(client, shop_with_history["spade"])
    settings.PERSONALIZATION_ENABLED = False
    shelves = _shelves(client.get(reverse("home")))
    assert "home_recent" not in shelves and "home_because_viewed" not in shelves
    assert shelves["home_recommended"][0] == "New in"
    assert "cart_complete" not in _shelves(client.get(reverse("orders:cart")))


def test_a_merchandiser_title_names_the_viewed_product_where_it_says_so(client, shop_with_history):
    slot_configs_ensure()
    SlotConfig.objects.filter(slot="home_because_viewed").update(title="More like {product}")
    slots_publish()
    models_publish()  # training publishes once its transaction commits, which a test's never does
    _consenting(client)
    _view(client, shop_with_history["spade"])
    # Only Rake was ever bought with a spade: the shelf stays short rather than pad with strangers.
    assert _shelves(client.get(reverse("home")))["home_because_viewed"] == ("More like Spade", ["Rake"])


def test_staff_see_why_a_shelf_is_titled_popular_now(staff_client, shop_with_history):
    ProductFactory()
    body = staff_client.get(reverse("home")).content.decode()
    assert "<strong>titles</strong>: no history to steer it: titled &#x27;Popular now&#x27;" in body
