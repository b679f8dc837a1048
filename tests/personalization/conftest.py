"""Fixtures of the personalization tests: a shop with a purchase history the recommenders learn from."""

import pytest

from personalization.training import model_train
from tests.factories.catalog import CategoryFactory, ProductFactory
from tests.factories.tracking import carts_history


@pytest.fixture
def shop_with_history():
    """Two kitchen cliques bought together by past shoppers, and a garden aisle nobody buys with them."""
    kitchen, garden = CategoryFactory(name="Kitchen"), CategoryFactory(name="Garden")
    teapot, cups, saucers = (ProductFactory(category=kitchen, title=t) for t in ("Teapot", "Cups", "Saucers"))
    spade, rake = (ProductFactory(category=garden, title=t) for t in ("Spade", "Rake"))
    filler = ProductFactory.create_batch(12, category=garden)
    carts_history(baskets=[(teapot, cups, saucers) if shopper % 2 == 0 else (spade, rake) for shopper in range(6)])
    for name in ("popularity", "trending", "itemknn", "session", "content"):
        model_train(name=name)
    return {"teapot": teapot, "cups": cups, "saucers": saucers, "spade": spade, "rake": rake, "filler": filler}
