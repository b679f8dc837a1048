"""Fixtures of the personalization tests: a shop with a purchase history the recommenders learn from."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from personalization.training import model_train
from tests.factories.catalog import CategoryFactory, ProductFactory
from tests.factories.tracking import EventFactory


@pytest.fixture
def shop_with_history():
    """Two kitchen cliques bought together by past shoppers, and a garden aisle nobody buys with them."""
    kitchen, garden = CategoryFactory(name="Kitchen"), CategoryFactory(name="Garden")
    teapot, cups, saucers = (ProductFactory(category=kitchen, title=t) for t in ("Teapot", "Cups", "Saucers"))
    spade, rake = (ProductFactory(category=garden, title=t) for t in ("Spade", "Rake"))
    filler = ProductFactory.create_batch(12, category=garden)
    now = timezone.now()
    for shopper in range(6):
        visitor = uuid.uuid4()
        basket = (teapot, cups, saucers) if shopper % 2 == 0 else (spade, rake)
        for hours, product in enumerate(basket):
            EventFactory(
                visitor_id=visitor,
                name="add_to_cart",
                source="server",
                product_id=product.pk,
                client_ts=now - timedelta(hours=hours + 1),
            )
    for name in ("popularity", "trending", "itemknn", "session", "content"):
        model_train(name=name)
    return {"teapot": teapot, "cups": cups, "saucers": saucers, "spade": spade, "rake": rake, "filler": filler}
