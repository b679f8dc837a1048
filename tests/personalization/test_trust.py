"""What training believes: a burst of anonymous browser events cannot buy a place on every new visitor's shelf."""

import random
import uuid
from datetime import timedelta

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from personalization.tasks import model_retrain
from personalization.training import interactions_from_events
from tests.factories.accounts import UserFactory
from tests.factories.catalog import CategoryFactory, ProductFactory
from tests.factories.tracking import EventFactory, RawEventFactory

pytestmark = pytest.mark.django_db

BURST = 150


def _server_cart(product, *, visitor, user, at):
    EventFactory(
        name="add_to_cart",
        source="server",
        visitor_id=visitor,
        user_id=user,
        product_id=product.pk,
        category_id=product.category_id,
        properties={"quantity": 1, "items": [{"item_id": str(product.pk), "quantity": 1}]},
        client_ts=at,
    )


def _server_purchase(products, *, visitor, user, at):
    EventFactory(
        name="purchase",
        source="server",
        visitor_id=visitor,
        user_id=user,
        properties={
            "transaction_id": uuid.uuid4().hex[:12],
            "value": 10.0 * len(products),
            "items": [{"item_id": str(product.pk), "quantity": 1} for product in products],
        },
        client_ts=at,
    )


def _browser_view(product, *, visitor, user, at):
    EventFactory(name="view_item", visitor_id=visitor, user_id=user, product_id=product.pk, client_ts=at)


@pytest.fixture
def organic_shop():
    """Four aisles, two weeks of shoppers whose interest falls off with each product's rank.

    Shoppers view a few products in the browser; some put one or two in the cart (the cart
    service records that) and some of those buy; a third are signed in. Browsers who only
    look come and go besides. The last product is one almost nobody wants."""
    rng = random.Random(6)
    aisles = [CategoryFactory(name=name) for name in ("Kitchen", "Garden", "Bath", "Desk")]
    products = [ProductFactory(category=aisles[i % 4], stock=50) for i in range(24)]
    popular, unwanted = products[:-1], products[-1]
    interest = [1 / (rank + 1) ** 0.8 for rank in range(len(popular))]
    now = timezone.now()
    accounts = UserFactory.create_batch(30)
    for shopper in range(90):
        visitor, user = uuid.uuid4(), (accounts[shopper % 30].pk if shopper % 3 == 0 else None)
        start = now - timedelta(days=rng.uniform(0.2, 14))
        viewed = list(dict.fromkeys(rng.choices(popular, weights=interest, k=rng.randint(2, 6))))
        for step, product in enumerate(viewed):
            _browser_view(product, visitor=visitor, user=user, at=start + timedelta(minutes=step))
        carted = viewed[: rng.choice((0, 1, 1, 2))]
        for product in carted:
            _server_cart(product, visitor=visitor, user=user, at=start + timedelta(minutes=10))
        if carted and rng.random() < 0.5:
            _server_purchase(carted, visitor=visitor, user=user, at=start + timedelta(minutes=15))
    for _ in range(80):
        visitor, at = uuid.uuid4(), now - timedelta(days=rng.uniform(0.1, 14))
        for product in dict.fromkeys(rng.choices(popular, weights=interest, k=rng.randint(1, 3))):
            _browser_view(product, visitor=visitor, user=None, at=at)
    _browser_view(unwanted, visitor=uuid.uuid4(), user=None, at=now - timedelta(days=3))
    # The nightly models were trained on this history before anything below happened.
    for name in ("itemknn", "content", "session", "trending", "popularity"):
        model_retrain(name)
    return {"products": products, "unwanted": unwanted}


def _hourly_retrain(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        model_retrain("trending")
        model_retrain("popularity")


def _new_visitors_shelf() -> list[int]:
    response = Client().get(reverse("home"))
    return [product.pk for product in response.context["slots"]["home_recommended"].products]


def test_a_burst_of_anonymous_browser_carts_does_not_reach_new_visitors_shelf(
    organic_shop, django_capture_on_commit_callbacks
):
    unwanted = organic_shop["unwanted"]
    # One address, one burst: every request a fresh visitor id (no cookie but consent), one
    # add_to_cart each, through the real collector and under its rate limits.
    for _ in range(BURST):
        attacker = Client()
        attacker.cookies["ll_consent"] = "granted"
        response = attacker.post(
            reverse("tracking:collect"),
            data={"events": [RawEventFactory(name="add_to_cart", product_id=unwanted.pk, props={"quantity": 1})]},
            content_type="application/json",
            HTTP_ORIGIN="http://testserver",
        )
        assert response.status_code == 202 and response.json()["accepted"] == 1
    _hourly_retrain(django_capture_on_commit_callbacks)
    shelf = _new_visitors_shelf()
    assert shelf[0] != unwanted.pk
    assert unwanted.pk not in shelf[:3]


def test_fake_carts_spread_over_a_day_stay_off_the_top_of_the_shelf(organic_shop, django_capture_on_commit_callbacks):
    unwanted, now = organic_shop["unwanted"], timezone.now()
    for fake in range(BURST):
        at = now - timedelta(minutes=fake * 10)  # about six an hour: each hour's crowd is small
        visitor = uuid.uuid4()
        _browser_view(unwanted, visitor=visitor, user=None, at=at)
        EventFactory(name="add_to_cart", visitor_id=visitor, product_id=unwanted.pk, client_ts=at)
    _hourly_retrain(django_capture_on_commit_callbacks)
    assert unwanted.pk not in _new_visitors_shelf()[:3]


def test_real_shoppers_buying_a_product_do_bring_it_up(organic_shop, django_capture_on_commit_callbacks):
    unwanted = organic_shop["unwanted"]
    now = timezone.now()
    for shopper in range(BURST):
        visitor, at = uuid.uuid4(), now - timedelta(minutes=shopper * 3)
        user = UserFactory().pk if shopper % 2 == 0 else None
        _browser_view(unwanted, visitor=visitor, user=user, at=at)
        _server_cart(unwanted, visitor=visitor, user=user, at=at + timedelta(minutes=1))
        if shopper % 3 == 0:
            _server_purchase([unwanted], visitor=visitor, user=user, at=at + timedelta(minutes=2))
    _hourly_retrain(django_capture_on_commit_callbacks)
    assert _new_visitors_shelf()[0] == unwanted.pk


def _cell(data, *, owner: str, product) -> float:
    return float(data.matrix[data.user_index(owner), data.item_index(product.pk)])


def test_the_browsers_copy_of_a_cart_change_and_repeated_views_count_once():
    product = ProductFactory()
    # Votes are counted per calendar day (UTC): noon keeps the five minutes inside one day.
    now = (timezone.now() - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    visitor = uuid.uuid4()
    for minute in range(5):
        _browser_view(product, visitor=visitor, user=None, at=now - timedelta(minutes=minute))
    _server_cart(product, visitor=visitor, user=None, at=now)
    EventFactory(name="add_to_cart", source="web", visitor_id=visitor, product_id=product.pk, client_ts=now)
    data = interactions_from_events()
    # One view and one cart change: 1 + 3, not five views, the cart and the browser's echo of it.
    assert _cell(data, owner=f"v:{visitor}", product=product) == pytest.approx(4.0)


def test_imported_history_keeps_its_weights():
    product = ProductFactory()
    customer, day = uuid.uuid4(), timezone.now() - timedelta(days=2)
    for _ in range(3):  # three invoices of one customer on one day, as Online Retail has them
        EventFactory(name="purchase", source="import", visitor_id=customer, product_id=product.pk, client_ts=day)
    data = interactions_from_events()
    assert _cell(data, owner=f"v:{customer}", product=product) == pytest.approx(15.0)
    assert np.isclose(data.matrix.sum(), 15.0)
