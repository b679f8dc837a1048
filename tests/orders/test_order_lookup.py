"""A guest finds an order by its number and e-mail; a wrong number and a wrong e-mail look alike."""

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings

from shop.orders.views import ORDER_NOT_FOUND
from tests.factories.accounts import UserFactory
from tests.factories.orders import OrderFactory
from tests.fuzzing import assert_clean_answer, encoded, pairs_of

pytestmark = pytest.mark.django_db

FIND = reverse("orders:find")


def test_a_guest_finds_their_order_and_may_then_see_it(client):
    order = OrderFactory(user=None, email="guest@example.com")
    assert client.get(order.get_absolute_url()).status_code == 404
    response = client.post(FIND, {"number": f" {order.number.lower()} ", "email": "Guest@Example.com"})
    assert response.status_code == 302
    assert response["Location"] == order.get_absolute_url()
    page = client.get(order.get_absolute_url())
    assert page.status_code == 200
    assert order.number in page.content.decode()


@pytest.mark.parametrize("wrong", ["number", "email"])
def test_a_wrong_number_and_a_wrong_email_get_the_same_answer(client, wrong):
    order = OrderFactory(user=None, email="guest@example.com")
    given_ = {"number": order.number, "email": "guest@example.com"}
    given_[wrong] = "LL-00000000" if wrong == "number" else "other@example.com"
    response = client.post(FIND, given_)
    assert response.status_code == 404
    assert ORDER_NOT_FOUND in response.content.decode()
    assert client.get(order.get_absolute_url()).status_code == 404


def test_an_accounts_order_is_not_found_by_its_email(client):
    """An account's orders need its login: the number and e-mail of a guest are not enough."""
    order = OrderFactory(user=UserFactory(email="ada@example.com"))
    response = client.post(FIND, {"number": order.number, "email": "ada@example.com"})
    assert response.status_code == 404
    assert ORDER_NOT_FOUND in response.content.decode()


def test_look_ups_are_limited_per_address(client, settings):
    settings.ORDERS_LOOKUPS_PER_IP = 3
    order = OrderFactory(user=None, email="guest@example.com")
    answers = [client.post(FIND, {"number": "LL-00000000", "email": "guest@example.com"}).status_code for _ in range(3)]
    assert answers == [404, 404, 404]
    refused = client.post(FIND, {"number": order.number, "email": "guest@example.com"})
    assert refused.status_code == 429
    assert "Too many look-ups from your network; try again in" in refused.content.decode()
    assert int(refused["Retry-After"]) > 0
    # Another address is not held back by this one.
    assert (
        Client(REMOTE_ADDR="192.0.2.9").post(FIND, {"number": order.number, "email": "guest@example.com"}).status_code
        == 302
    )


def test_a_malformed_look_up_is_refused_with_a_reason(client):
    response = client.post(FIND, {"number": "", "email": "not-an-email"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "This field is required" in body
    assert "Enter a valid email address" in body


def test_the_form_is_linked_from_the_login_page_and_csrf_protected(client):
    assert FIND in client.get(reverse("accounts:login")).content.decode()
    assert Client(enforce_csrf_checks=True).post(FIND, {"number": "LL-1", "email": "a@b.c"}).status_code == 403


@hypothesis_settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(pairs=pairs_of(("number", "email")))
@example(pairs=[("number", b"\x00"), ("email", b"a@b.c")])
@example(pairs=[("number", b"LL-T000001"), ("email", b"ada@example.com\x00")])
@example(pairs=[("number", b"9" * 40), ("email", b"\xff\xfe")])
def test_any_look_up_gets_a_page_a_redirect_or_a_4xx(settings, pairs):
    settings.ORDERS_LOOKUPS_PER_IP = 10**9
    client = Client(raise_request_exception=False)
    response = client.post(FIND, encoded(pairs), content_type="application/x-www-form-urlencoded")
    assert_clean_answer(response, pairs)
