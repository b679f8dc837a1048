"""Coupons and offers as a shopper meets them: applied in the cart, shown everywhere, used once, never below zero."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from merchandising.models import Coupon, CouponRedemption, Offer
from shop.orders.models import Order
from tests.factories.catalog import CategoryFactory, ProductFactory
from tests.factories.merchandising import CouponFactory, OfferFactory
from tests.factories.orders import CheckoutFormFactory
from tests.orders.checkout import hidden_fields
from tracking.models import Event

pytestmark = pytest.mark.django_db


def cart_with(client, product, quantity=1):
    client.post(reverse("orders:cart_add"), {"product_id": product.pk, "quantity": quantity})
    return client


def apply(client, code):
    return client.post(reverse("orders:cart_coupon"), {"code": code}, follow=True)


def checkout(client, **form):
    page = client.get(reverse("orders:checkout"))
    return client.post(reverse("orders:checkout"), {**CheckoutFormFactory(**form), **hidden_fields(page)})


def test_a_coupon_shows_in_cart_checkout_order_and_admin_and_the_totals_agree(client, admin_client):
    product = ProductFactory(price=Decimal("40.00"), stock=5)
    CouponFactory(code="WINTER10", offer=OfferFactory(kind=Offer.Kind.PERCENT, value=10))
    client.post(reverse("tracking:consent"), {"choice": "granted"})
    cart_with(client, product, 2)
    cart = apply(client, " winter10 ")
    summary = cart.context["summary"]
    assert (summary.subtotal, summary.discount, summary.shipping, summary.total) == (
        Decimal("80.00"), Decimal("8.00"), Decimal("0.00"), Decimal("72.00"),
    )  # fmt: skip
    assert "Coupon WINTER10 applied." in cart.content.decode() and "−£8.00" in cart.content.decode()
    assert "−£8.00" in client.get(reverse("orders:checkout")).content.decode()
    placed = checkout(client)
    order = Order.objects.get()
    assert (order.subtotal, order.discount, order.total, order.coupon_code) == (
        Decimal("80.00"), Decimal("8.00"), Decimal("72.00"), "WINTER10",
    )  # fmt: skip
    assert "−£8.00" in client.get(placed["Location"]).content.decode()
    assert "WINTER10" in admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert CouponRedemption.objects.get().amount == Decimal("8.00")
    purchase = Event.objects.get(name="purchase")
    assert (purchase.properties["value"], purchase.properties["coupon"]) == (72.0, "WINTER10")


@pytest.mark.parametrize(
    ("make", "code", "message"),
    [
        (lambda: None, "NOPE", "No coupon has the code NOPE."),
        (
            lambda: CouponFactory(code="OLD", ends_at=timezone.now() - timedelta(days=1)),
            "OLD",
            "The coupon OLD expired on",
        ),
        (
            lambda: CouponFactory(code="SOON", starts_at=timezone.now() + timedelta(days=1)),
            "SOON",
            "The coupon SOON is valid from",
        ),
        (
            lambda: CouponFactory(code="USED", usage=Coupon.Usage.SINGLE, times_redeemed=1),
            "USED",
            "The coupon USED has been used up.",
        ),
        (
            lambda: CouponFactory(code="BIG", offer=OfferFactory(min_spend=Decimal("100"))),
            "BIG",
            "Spend £90.00 more to use BIG",
        ),
        (lambda: CouponFactory(code="OFF", is_active=False), "OFF", "The coupon OFF is no longer valid."),
        (lambda: None, "<script>", "That is not a coupon code"),
        (lambda: None, "X" * 40, "That is not a coupon code"),
    ],
)
def test_a_code_that_cannot_be_used_is_refused_with_the_reason(client, make, code, message):
    make()
    cart_with(client, ProductFactory(price=Decimal("10.00"), stock=5))
    answer = client.post(reverse("orders:cart_coupon"), {"code": code})
    assert answer.status_code == 409
    assert message in answer.content.decode()
    assert answer.context["summary"].discount == 0


def test_a_coupon_for_a_product_not_in_the_cart_says_so(client):
    mug = ProductFactory(title="Blue mug", stock=5)
    CouponFactory(
        code="MUG", offer=OfferFactory(target=Offer.Target.PRODUCT, product=mug, kind=Offer.Kind.AMOUNT, value=2)
    )
    cart_with(client, ProductFactory(stock=5))
    answer = client.post(reverse("orders:cart_coupon"), {"code": "MUG"})
    assert (
        answer.status_code == 409
        and "MUG is for £2.00 off “Blue mug”, which is not in your cart." in answer.content.decode()
    )


def test_an_amount_off_never_takes_a_total_below_zero():
    product = ProductFactory(price=Decimal("5.00"), stock=5)
    client = cart_with(Client(), product)
    CouponFactory(code="BIGAMOUNT", offer=OfferFactory(kind=Offer.Kind.AMOUNT, value=Decimal("50.00")))
    summary = apply(client, "BIGAMOUNT").context["summary"]
    assert summary.discount == Decimal("5.00") and summary.total == summary.shipping


def test_the_best_discount_wins_and_they_do_not_stack(client):
    kitchen = CategoryFactory()
    product = ProductFactory(price=Decimal("60.00"), category=kitchen, stock=5)
    OfferFactory(name="Kitchen week", automatic=True, target=Offer.Target.CATEGORY, category=kitchen, value=20)
    CouponFactory(code="SMALL", offer=OfferFactory(kind=Offer.Kind.AMOUNT, value=Decimal("5")))
    cart_with(client, product)
    summary = client.get(reverse("orders:cart")).context["summary"]
    assert summary.discount == Decimal("12.00") and "20% off" in summary.discount_label
    summary = apply(client, "SMALL").context["summary"]
    assert summary.discount == Decimal("12.00")
    assert summary.coupon_problem == "SMALL takes off less than the offer you already have, so it is not used."


def test_once_per_customer_by_email_for_guests():
    CouponFactory(code="HELLO", usage=Coupon.Usage.ONCE_PER_CUSTOMER)
    for attempt, status in ((1, 302), (2, 409)):
        client = cart_with(Client(), ProductFactory(stock=5))
        apply(client, "HELLO")
        answer = checkout(client, email="Ada@Example.com" if attempt == 2 else "ada@example.com")
        assert answer.status_code == status
    assert "You have already used the coupon HELLO." in answer.content.decode()
    assert Order.objects.count() == 1


def test_a_coupon_that_expired_after_it_was_applied_is_refused_at_checkout_and_nothing_is_charged(client):
    coupon = CouponFactory(code="LATE")
    cart_with(client, ProductFactory(stock=5))
    apply(client, "LATE")
    Coupon.objects.filter(pk=coupon.pk).update(ends_at=timezone.now())
    answer = checkout(client)
    assert answer.status_code == 409 and "The coupon LATE expired" in answer.content.decode()
    assert not Order.objects.exists()


RACERS = 20


@pytest.mark.django_db(transaction=True)
def test_twenty_checkouts_racing_for_a_single_use_code_give_one_discounted_order():
    assert connection.vendor == "postgresql"
    coupon = CouponFactory(code="ONLYONE", usage=Coupon.Usage.SINGLE, offer=OfferFactory(value=50))
    product = ProductFactory(price=Decimal("20.00"), stock=RACERS)
    shoppers = []
    for _ in range(RACERS):
        shopper = cart_with(Client(), product)
        apply(shopper, "ONLYONE")
        page = shopper.get(reverse("orders:checkout"))
        shoppers.append((shopper.cookies[settings.SESSION_COOKIE_NAME].value, hidden_fields(page)))
    start = threading.Barrier(RACERS)
    answers: list[int] = []

    def race(session_cookie, hidden):
        tab = Client(raise_request_exception=False)
        tab.cookies[settings.SESSION_COOKIE_NAME] = session_cookie
        try:
            start.wait()
            answers.append(tab.post(reverse("orders:checkout"), {**CheckoutFormFactory(), **hidden}).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=race, args=shopper) for shopper in shoppers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(answers) == [302] + [409] * (RACERS - 1)
    (order,) = Order.objects.all()
    assert order.discount == Decimal("10.00") and order.total == Decimal("14.95")
    coupon.refresh_from_db()
    assert coupon.times_redeemed == 1 and CouponRedemption.objects.count() == 1
