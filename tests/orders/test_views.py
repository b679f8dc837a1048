"""Cart and checkout over HTTP: what a shopper sees, bad input included."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from shop.orders.models import Cart, Order
from shop.orders.selectors import SESSION_CART_KEY
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.catalog import ProductFactory
from tests.factories.orders import CartFactory, CartLineFactory, CheckoutFormFactory, OrderFactory
from tests.orders.checkout import hidden_fields

pytestmark = pytest.mark.django_db


def _add(client, product_id, quantity="1"):
    return client.post(reverse("orders:cart_add"), {"product_id": product_id, "quantity": quantity})


def test_anonymous_shopper_fills_cart_and_sees_it(client):
    product = ProductFactory(title="Walnut Desk Lamp", price=Decimal("45.00"), stock=3)
    response = _add(client, product.pk, "2")
    assert response.status_code == 302
    page = client.get(reverse("orders:cart"))
    assert page.status_code == 200
    assert "Walnut Desk Lamp" in page.content.decode()
    assert page.context["summary"].subtotal == Decimal("90.00")


@pytest.mark.parametrize(
    ("quantity", "status", "reason"),
    [
        ("-3", 400, "greater than or equal to 1"),
        ("0", 400, "greater than or equal to 1"),
        ("100000", 400, "less than or equal to 99"),
        ("lots", 400, "whole number"),
        ("", 400, "required"),
        ("1e9", 400, "whole number"),
    ],
)
def test_bad_quantities_get_a_reason_and_change_nothing(client, quantity, status, reason):
    product = ProductFactory(stock=5)
    response = _add(client, product.pk, quantity)
    assert response.status_code == status
    assert reason in " ".join(response.context["errors"])
    assert not Cart.objects.filter(lines__isnull=False).exists()


@pytest.mark.parametrize("product_id", ["999999999", "abc", "-1", "", "1; DROP TABLE catalog_product"])
def test_unknown_product_is_refused_with_a_reason(client, product_id):
    response = _add(client, product_id)
    assert response.status_code in (400, 404)
    assert response.context["errors"]


def test_out_of_stock_is_a_conflict_with_a_message(client):
    product = ProductFactory(title="Last Teapot", stock=1)
    assert _add(client, product.pk, "1").status_code == 302
    response = _add(client, product.pk, "1")
    assert response.status_code == 409
    assert "Only 1 of “Last Teapot” left" in response.content.decode()


def test_tampered_session_cart_ids_are_ignored(client):
    victim = CartFactory(user=UserFactory())
    CartLineFactory(cart=victim, product=ProductFactory(title="Secret Purchase"))
    for forged in (victim.pk, "not-a-number", {"evil": True}, 10**30):
        session = client.session
        session[SESSION_CART_KEY] = forged
        session.save()
        page = client.get(reverse("orders:cart"))
        assert page.status_code == 200
        assert page.context["summary"].is_empty
    assert victim.lines.count() == 1


def test_update_and_remove_lines(client):
    product = ProductFactory(stock=10)
    _add(client, product.pk, "1")
    assert client.post(reverse("orders:cart_update"), {"product_id": product.pk, "quantity": "4"}).status_code == 302
    assert client.get(reverse("orders:cart")).context["summary"].item_count == 4
    too_many = client.post(reverse("orders:cart_update"), {"product_id": product.pk, "quantity": "11"})
    assert too_many.status_code == 409
    assert client.post(reverse("orders:cart_remove"), {"product_id": product.pk}).status_code == 302
    assert client.get(reverse("orders:cart")).context["summary"].is_empty
    again = client.post(reverse("orders:cart_remove"), {"product_id": product.pk})
    assert again.status_code == 400


def test_the_cart_fragments_are_the_pages_own_partials_for_the_cart_as_it_is_now(client):
    lamp = ProductFactory(title="Walnut Desk Lamp", price=Decimal("45.00"), stock=3)
    url = reverse("orders:cart_fragments")
    empty = client.get(url, {"page": "home"}).json()["fragments"]
    assert set(empty) == {"cart:count"}
    assert '<span class="cart-link__count">0</span>' in empty["cart:count"]
    _add(client, lamp.pk, "2")
    home = client.get(url, {"page": "home"})
    assert home["Cache-Control"] == "no-store"
    assert '<span class="cart-link__count">2</span>' in home.json()["fragments"]["cart:count"]
    # The header the page renders is the fragment, byte for byte.
    assert home.json()["fragments"]["cart:count"].strip() in client.get(reverse("home")).content.decode()

    cart = client.get(url, {"page": "cart"}).json()["fragments"]
    assert set(cart) == {"cart:count", "cart:page", "cart_complete"}
    assert 'data-slot-block="cart:page"' in cart["cart:page"] and "Walnut Desk Lamp" in cart["cart:page"]
    assert "£90.00" in cart["cart:page"]
    # Its forms post: they carry the session's CSRF token.
    form_client = Client(enforce_csrf_checks=True)
    form_client.cookies = client.cookies
    token = cart["cart:page"].split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    update = {"product_id": lamp.pk, "quantity": "1", "csrfmiddlewaretoken": token}
    assert form_client.post(reverse("orders:cart_update"), update).status_code == 302


def test_the_cart_fragments_answer_only_get_and_ignore_an_unknown_page(client):
    assert client.post(reverse("orders:cart_fragments")).status_code == 405
    odd = client.get(reverse("orders:cart_fragments"), {"page": "<script>"}).json()["fragments"]
    assert set(odd) == {"cart:count"}


def test_cart_endpoints_refuse_get(client):
    assert client.get(reverse("orders:cart_add")).status_code == 405


def test_cart_merges_into_user_cart_on_login(client):
    user = UserFactory()
    owned = ProductFactory(stock=10)
    CartLineFactory(cart=CartFactory(user=user), product=owned, quantity=1)
    picked = ProductFactory(stock=10)
    _add(client, picked.pk, "2")
    _add(client, owned.pk, "1")
    response = client.post(reverse("accounts:login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    summary = client.get(reverse("orders:cart")).context["summary"]
    assert {line.product_id: line.quantity for line in summary.lines} == {owned.pk: 2, picked.pk: 2}
    assert Cart.objects.count() == 1


def test_guest_checkout_places_order_and_shows_confirmation(client):
    product = ProductFactory(title="Linen Apron", price=Decimal("18.00"), stock=2)
    _add(client, product.pk, "2")
    response = client.post(reverse("orders:checkout"), CheckoutFormFactory())
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:detail", kwargs={"number": order.number})
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert order.number in page.content.decode()
    assert "Linen Apron" in page.content.decode()
    product.refresh_from_db()
    assert product.stock == 0


def _checkout_form(client, **fields) -> dict:
    """The checkout form as the page renders it, filled in by the shopper."""
    return {**CheckoutFormFactory(**fields), **hidden_fields(client.get(reverse("orders:checkout")))}


def test_submitting_a_placed_checkout_again_shows_that_order_and_charges_nothing(client):
    product = ProductFactory(stock=5)
    _add(client, product.pk, "1")
    form = _checkout_form(client)
    assert client.post(reverse("orders:checkout"), form).status_code == 302
    order = Order.objects.get()
    again = client.post(reverse("orders:checkout"), form, follow=True)
    assert again.redirect_chain == [(order.get_absolute_url(), 302)]
    assert "already placed" in again.content.decode()
    assert Order.objects.count() == 1
    product.refresh_from_db()
    assert product.stock == 4


def test_a_checkout_token_of_another_cart_or_forged_is_refused_with_a_message(client):
    other = Client()
    _add(other, ProductFactory(stock=5).pk, "1")
    foreign = hidden_fields(other.get(reverse("orders:checkout")))["checkout_token"]
    _add(client, ProductFactory(stock=5).pk, "1")
    for token in (foreign, "forged", foreign[:-2] + "xx"):
        response = client.post(reverse("orders:checkout"), {**CheckoutFormFactory(), "checkout_token": token})
        assert response.status_code == 400
        assert "out of date" in response.content.decode()
        assert not Order.objects.exists()
    # The page that said so carries a fresh form the shopper can send.
    assert (
        client.post(reverse("orders:checkout"), {**CheckoutFormFactory(), **hidden_fields(response)}).status_code == 302
    )
    assert Order.objects.count() == 1


def test_checkout_form_errors_are_shown_and_nothing_is_bought(client):
    product = ProductFactory(stock=2)
    _add(client, product.pk, "1")
    response = client.post(reverse("orders:checkout"), CheckoutFormFactory(email="not-an-email", card_number="abc"))
    assert response.status_code == 400
    assert "Enter a valid email address" in response.content.decode()
    assert not Order.objects.exists()


def test_declined_card_says_so_and_keeps_cart(client):
    product = ProductFactory(stock=2)
    _add(client, product.pk, "1")
    response = client.post(reverse("orders:checkout"), CheckoutFormFactory(card_number="4000 0000 0000 0002"))
    assert response.status_code == 402
    assert "declined" in response.content.decode()
    assert client.get(reverse("orders:cart")).context["summary"].item_count == 1


def test_checkout_with_empty_cart_sends_back_to_cart(client):
    response = client.get(reverse("orders:checkout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:cart")


def test_order_history_lists_only_own_orders(client):
    user = UserFactory()
    mine = OrderFactory(user=user)
    theirs = OrderFactory(user=UserFactory())
    client.force_login(user)
    page = client.get(reverse("orders:history"))
    assert mine.number in page.content.decode()
    assert theirs.number not in page.content.decode()
    assert client.get(theirs.get_absolute_url()).status_code == 404


def test_order_history_needs_login(client):
    response = client.get(reverse("orders:history"))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]
