"""Simulated purchases placed through the shop's own cart and checkout, so each is a real order."""

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.contrib.auth import get_user_model

from shop.catalog.models import Product
from shop.catalog.services.reviews import review_submit
from shop.orders.models import Cart, Order
from shop.orders.services import AlreadyPlaced, CartError, ShippingAddress, cart_add_item, order_place

from .engine import NAMESPACE

# The payment service's test card: well formed, never declined.
TEST_CARD = "4242 4242 4242 4242"
# Share of signed-in buyers who come back and review one product of an order, and the stars
# they give: most reviews in shops are four or five stars, a few are unhappy.
REVIEW_SHARE = 0.35
STAR_WEIGHTS = {5: 10, 4: 8, 3: 3, 2: 1, 1: 1}
REVIEW_WORDS = {
    5: ("Love it", "Exactly as described and well made."),
    4: ("Very good", "Does the job well; one small niggle."),
    3: ("It's fine", "Decent for the price, nothing special."),
    2: ("Disappointing", "Not quite what I expected."),
    1: ("Sent it back", "It did not hold up."),
}


@dataclass(frozen=True)
class PlacedPurchase:
    order: Order | None  # None: the cart could not be bought (sold out since the shopper saw it)
    reason: str = ""


def purchase_place(*, visitor_index: int, visitor_id: uuid.UUID, purchase: dict, user_id: int | None) -> PlacedPurchase:
    """The order of one simulated purchase event, placed once whatever how often the run repeats.

    The checkout key is derived from the purchase event's id, so a re-run finds the order it
    placed before instead of charging again. The order is dated when the event happened, so
    revenue by day agrees with the purchase events.
    """
    key = uuid.uuid5(NAMESPACE, f"checkout/{purchase['event_id']}")
    placed = Order.objects.filter(checkout_key=key).first()
    if placed is not None:
        return PlacedPurchase(order=placed)
    user = get_user_model().objects.filter(pk=user_id).first() if user_id is not None else None
    cart = Cart.objects.create()
    try:
        for item in purchase["props"]["items"]:
            cart_add_item(cart=cart, product_id=int(item["item_id"]), quantity=int(item.get("quantity", 1)))
        order = order_place(
            cart=cart,
            user=user,
            address=ShippingAddress(
                full_name=user.get_full_name() or user.get_username() if user else f"Guest shopper {visitor_index}",
                email=user.email if user and user.email else f"guest-{visitor_id.hex[:12]}@example.com",
                address_line1=f"{visitor_index % 200 + 1} Market Street",
                city="Bristol",
                postcode="BS1 4DJ",
            ),
            card_number=TEST_CARD,
            checkout_key=key,
        )
    except AlreadyPlaced as already:
        return PlacedPurchase(order=already.order)
    except CartError as error:
        return PlacedPurchase(order=None, reason=type(error).__name__)
    finally:
        cart.delete()
    Order.objects.filter(pk=order.pk).update(placed_at=datetime.fromtimestamp(purchase["ts"] / 1000, tz=UTC))
    if user is not None:
        _maybe_review(order=order, user=user, rng=random.Random(purchase["event_id"]))
    return PlacedPurchase(order=order)


def _maybe_review(*, order: Order, user, rng: random.Random) -> None:
    if rng.random() >= REVIEW_SHARE:
        return
    product_ids = sorted(order.lines.exclude(product=None).values_list("product_id", flat=True))
    product = Product.objects.filter(pk=rng.choice(product_ids)).first() if product_ids else None
    if product is None:
        return
    stars = rng.choices(list(STAR_WEIGHTS), weights=list(STAR_WEIGHTS.values()))[0]
    title, body = REVIEW_WORDS[stars]
    # Published at once: no one moderates the demo, and its stars should show on a first look.
    review_submit(product=product, user=user, rating=stars, title=title, body=body, publish=True)
