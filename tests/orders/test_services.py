"""Cart and checkout services against the real database."""

from decimal import Decimal

import pytest
from django.core import mail

from shop.orders import services
from shop.orders.models import Cart, Order
from tests.factories.accounts import UserFactory
from tests.factories.catalog import ProductFactory
from tests.factories.orders import CartFactory, CartLineFactory, OrderLineFactory

pytestmark = pytest.mark.django_db

GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"
ADDRESS = services.ShippingAddress(
    full_name="Ada Lovelace",
    email="ada@example.com",
    address_line1="1 Analytical Row",
    city="London",
    postcode="N1 1AA",
)


def test_adding_twice_adds_up_quantities():
    cart = CartFactory()
    product = ProductFactory(stock=5)
    services.cart_add_item(cart=cart, product_id=product.pk, quantity=2)
    line = services.cart_add_item(cart=cart, product_id=product.pk, quantity=2)
    assert line.quantity == 4
    assert cart.lines.count() == 1


@pytest.mark.parametrize(
    ("stock", "quantity", "error", "message"),
    [
        (0, 1, services.OutOfStock, "out of stock"),
        (3, 4, services.OutOfStock, "Only 3"),
        (10, 0, services.CartError, "at least 1"),
        (10, -2, services.CartError, "at least 1"),
        (1000, 10_000, services.CartError, "at most 99"),
    ],
)
def test_add_refuses_impossible_quantities(stock, quantity, error, message):
    cart = CartFactory()
    product = ProductFactory(stock=stock)
    with pytest.raises(error, match=message):
        services.cart_add_item(cart=cart, product_id=product.pk, quantity=quantity)
    assert not cart.lines.exists()


def test_add_refuses_unknown_and_hidden_products():
    cart = CartFactory()
    hidden = ProductFactory(is_active=False)
    for product_id in (hidden.pk, 987654321):
        with pytest.raises(services.ProductUnavailable):
            services.cart_add_item(cart=cart, product_id=product_id)


def test_set_quantity_zero_removes_the_line():
    line = CartLineFactory(quantity=2)
    change = services.cart_set_quantity(cart=line.cart, product_id=line.product_id, quantity=0)
    assert change.delta == -2
    assert not line.cart.lines.exists()


def test_merge_adds_anonymous_lines_to_the_user_cart_capped_by_stock():
    user = UserFactory()
    user_cart = CartFactory(user=user)
    shared = ProductFactory(stock=4)
    only_anonymous = ProductFactory(stock=9)
    sold_out = ProductFactory(stock=0)
    CartLineFactory(cart=user_cart, product=shared, quantity=3)
    anonymous = CartFactory()
    CartLineFactory(cart=anonymous, product=shared, quantity=3)
    CartLineFactory(cart=anonymous, product=only_anonymous, quantity=2)
    CartLineFactory(cart=anonymous, product=sold_out, quantity=1)

    merged = services.cart_merge(anonymous_cart=anonymous, user=user)

    quantities = {line.product_id: line.quantity for line in merged.lines.all()}
    assert quantities == {shared.pk: 4, only_anonymous.pk: 2}
    assert not Cart.objects.filter(pk=anonymous.pk).exists()


@pytest.mark.parametrize(("theirs", "kept"), [("", "WELCOME10"), ("OWN5", "OWN5")])
def test_a_coupon_entered_before_login_stays_unless_the_account_has_its_own(theirs, kept):
    user = UserFactory()
    CartFactory(user=user, coupon_code=theirs)
    anonymous = CartFactory(coupon_code="WELCOME10")
    assert services.cart_merge(anonymous_cart=anonymous, user=user).coupon_code == kept
    assert Cart.objects.get(user=user).coupon_code == kept


def test_order_place_captures_prices_takes_stock_and_empties_cart(django_capture_on_commit_callbacks, celery_eager):
    user = UserFactory()
    cart = CartFactory(user=user)
    mug = ProductFactory(price=Decimal("12.50"), stock=5)
    lamp = ProductFactory(price=Decimal("30.00"), stock=1)
    CartLineFactory(cart=cart, product=mug, quantity=2)
    CartLineFactory(cart=cart, product=lamp, quantity=1)

    with django_capture_on_commit_callbacks(execute=True):
        order = services.order_place(cart=cart, user=user, address=ADDRESS, card_number=GOOD_CARD)

    assert order.status == Order.Status.PAID
    assert order.subtotal == Decimal("55.00")
    assert order.shipping == Decimal("0.00")  # free delivery from £50
    assert order.total == Decimal("55.00")
    assert order.card_last4 == "4242"
    assert [(line.title, line.quantity, line.line_total) for line in order.lines.all()] == [
        (mug.title, 2, Decimal("25.00")),
        (lamp.title, 1, Decimal("30.00")),
    ]
    mug.refresh_from_db()
    lamp.refresh_from_db()
    assert (mug.stock, lamp.stock) == (3, 0)
    assert not cart.lines.exists()
    # Prices changed later do not rewrite history.
    mug.price = Decimal("99.00")
    mug.save(update_fields=["price"])
    assert order.lines.get(product=mug).unit_price == Decimal("12.50")
    assert len(mail.outbox) == 1
    assert order.number in mail.outbox[0].subject
    assert mail.outbox[0].to == ["ada@example.com"]


def test_small_orders_pay_flat_shipping():
    cart = CartFactory()
    CartLineFactory(cart=cart, product=ProductFactory(price=Decimal("10.00")), quantity=1)
    order = services.order_place(cart=cart, user=None, address=ADDRESS, card_number=GOOD_CARD)
    assert order.shipping == Decimal("4.95")
    assert order.total == Decimal("14.95")
    assert order.user is None


def test_declined_card_takes_no_stock_and_keeps_the_cart():
    cart = CartFactory()
    product = ProductFactory(stock=2)
    CartLineFactory(cart=cart, product=product, quantity=2)
    with pytest.raises(services.PaymentDeclined, match="declined"):
        services.order_place(cart=cart, user=None, address=ADDRESS, card_number=DECLINED_CARD)
    product.refresh_from_db()
    assert product.stock == 2
    assert cart.lines.count() == 1
    assert not Order.objects.exists()


def test_invalid_card_number_is_refused():
    with pytest.raises(services.PaymentDeclined, match="not valid"):
        services.payment_authorise(card_number="4242 4242 4242 4241", amount=Decimal("1"))


def test_stock_sold_elsewhere_rolls_back_the_whole_order():
    cart = CartFactory()
    plenty = ProductFactory(stock=10)
    scarce = ProductFactory(stock=3)
    CartLineFactory(cart=cart, product=plenty, quantity=2)
    CartLineFactory(cart=cart, product=scarce, quantity=3)
    scarce.stock = 1  # someone else bought two meanwhile
    scarce.save(update_fields=["stock"])
    with pytest.raises(services.OutOfStock, match="sold out"):
        services.order_place(cart=cart, user=None, address=ADDRESS, card_number=GOOD_CARD)
    plenty.refresh_from_db()
    assert plenty.stock == 10


def test_cancelling_an_order_restocks_and_cannot_be_undone():
    line = OrderLineFactory(quantity=2, product=ProductFactory(stock=1))
    services.order_set_status(order=line.order, status=Order.Status.CANCELLED)
    line.product.refresh_from_db()
    assert line.product.stock == 3
    with pytest.raises(services.CartError, match="cannot be reopened"):
        services.order_set_status(order=line.order, status=Order.Status.SHIPPED)


def test_purge_removes_only_stale_anonymous_carts():
    from datetime import timedelta

    from django.utils import timezone

    stale, fresh = CartFactory(), CartFactory()
    owned = CartFactory(user=UserFactory())
    Cart.objects.filter(pk__in=[stale.pk, owned.pk]).update(updated_at=timezone.now() - timedelta(days=40))
    assert services.carts_purge_abandoned(older_than_days=30) == 1
    assert set(Cart.objects.values_list("pk", flat=True)) == {fresh.pk, owned.pk}


def test_order_numbers_reach_the_event_record_unmasked():
    """A number with seven digits in a row reads as a phone number, and the collector masks it:
    the purchase event would no longer name its order."""
    from shop.orders.services import _order_number
    from tracking.validation import scrub

    numbers = [_order_number() for _ in range(3000)]
    assert [number for number in numbers if scrub(number) != number] == []
    assert all(number.startswith("LL-") and len(number) == 11 for number in numbers)
