"""The one payload builder: what it builds is what the registry accepts, with totals a shopper would add up."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tracking.payloads import commerce_props, ga4_item, raw_event
from tracking.registry import Source
from tracking.validation import event_validate


def _valid(event: dict, *, source: str = Source.SERVER):
    now = datetime.now(UTC)
    return event_validate(event, received_at=now + timedelta(seconds=1), skew=timedelta(0), source=source)


def test_a_cart_line_totals_price_times_quantity_in_whole_pence():
    item = ga4_item(item_id=7, name="Mug", price=Decimal("4.99"), quantity=3)
    props = commerce_props(currency="GBP", items=[item], quantity=3)
    assert props["value"] == 14.97
    clean = _valid(raw_event("add_to_cart", product_id=7, props=props))
    assert clean.properties["items"][0] == {"item_id": "7", "item_name": "Mug", "price": 4.99, "quantity": 3}


@pytest.mark.parametrize("name", ["view_item", "add_to_wishlist", "begin_checkout", "purchase", "view_cart"])
def test_every_commerce_event_the_shop_builds_is_accepted(name):
    items = [
        ga4_item(item_id=1, name="Teapot", price=20, quantity=1, category="Kitchen", brand="Hearth", index=1),
        ga4_item(item_id=2, name="Cups", price=Decimal("3.10"), quantity=2),
    ]
    extra = {"transaction_id": "LL-1"} if name == "purchase" else {}
    props = commerce_props(currency="GBP", items=items, **extra)
    assert props["value"] == 26.2
    product = 1 if name in ("view_item", "add_to_wishlist") else None
    source = Source.WEB if name in ("view_item", "add_to_wishlist", "view_cart") else Source.SERVER
    assert _valid(raw_event(name, product_id=product, props=props), source=source).name == name


def test_a_stated_total_wins_over_the_sum_of_lines():
    # An order's total includes shipping, which no line carries.
    props = commerce_props(
        currency="GBP", items=[ga4_item(item_id=1, name="x", price=5, quantity=1)], value=Decimal("8.95")
    )
    assert props["value"] == 8.95
