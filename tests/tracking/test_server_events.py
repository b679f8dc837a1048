"""Cart, checkout, search, login and sign-up record their events through the one ingest path."""

import uuid

import pytest
from django.urls import reverse

from personalization.profiles import profile_owner, profile_read
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.catalog import ProductFactory
from tests.factories.orders import CheckoutFormFactory
from tests.factories.tracking import RawEventFactory
from tracking.identity import VISITOR_COOKIE
from tracking.models import Event, VisitorLink

pytestmark = pytest.mark.django_db


@pytest.fixture
def shopper(client):
    client.post(reverse("tracking:consent"), {"choice": "granted"})
    client.visitor = uuid.UUID(client.cookies[VISITOR_COOKIE].value)
    return client


def _names(**filters) -> list[str]:
    return list(Event.objects.filter(**filters).order_by("occurred_at", "id").values_list("name", flat=True))


def test_cart_and_checkout_events_are_recorded_from_the_server(shopper, django_capture_on_commit_callbacks):
    product = ProductFactory(stock=5)
    shopper.post(reverse("orders:cart_add"), {"product_id": product.pk, "quantity": 3})
    shopper.post(reverse("orders:cart_update"), {"product_id": product.pk, "quantity": 1})
    shopper.get(reverse("orders:checkout"))
    shopper.post(reverse("orders:checkout"), CheckoutFormFactory())
    assert _names(visitor_id=shopper.visitor) == ["add_to_cart", "remove_from_cart", "begin_checkout", "purchase"]
    purchase = Event.objects.get(name="purchase")
    assert purchase.source == "server"
    assert purchase.properties["items"][0]["item_id"] == str(product.pk)
    assert "ada@example.com" not in str(purchase.properties)
    profile = profile_read(owner=profile_owner(visitor_id=shopper.visitor, user_id=None))
    assert profile.bought == [product.pk]
    assert profile.cart == {}


def test_search_is_recorded_with_the_result_count(shopper):
    ProductFactory(title="Copper Kettle")
    shopper.get(reverse("catalog:search"), {"q": "kettle"})
    event = Event.objects.get(name="search")
    assert event.properties == {"search_term": "kettle", "results": 1}


def test_without_consent_the_server_records_nothing(client):
    product = ProductFactory(stock=5)
    client.post(reverse("orders:cart_add"), {"product_id": product.pk, "quantity": 1})
    client.get(reverse("catalog:search"), {"q": "kettle"})
    assert not Event.objects.exists()


def test_login_joins_the_anonymous_history_and_profile_to_the_user(shopper, django_capture_on_commit_callbacks):
    user = UserFactory()
    product = ProductFactory(stock=5)
    shopper.post(
        reverse("tracking:collect"),
        data={"events": [RawEventFactory(name="view_item", product_id=product.pk)]},
        content_type="application/json",
        HTTP_ORIGIN="http://testserver",
    )
    with_anonymous = profile_read(owner=profile_owner(visitor_id=shopper.visitor, user_id=None))
    assert with_anonymous.recent == [product.pk]

    with django_capture_on_commit_callbacks(execute=True):
        shopper.post(reverse("accounts:login"), {"username": user.username, "password": PASSWORD})

    assert VisitorLink.objects.get(visitor_id=shopper.visitor).user == user
    assert set(_names(user_id=user.pk)) == {"view_item", "login"}
    merged = profile_read(owner=profile_owner(visitor_id=None, user_id=user.pk))
    assert merged.recent == [product.pk]
    assert merged.counters["login"] == 1
    assert profile_read(owner=profile_owner(visitor_id=shopper.visitor, user_id=None)).is_empty


def test_sign_up_is_recorded(shopper):
    shopper.post(
        reverse("accounts:register"),
        {
            "username": "fresh",
            "email": "fresh@example.com",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
    )
    assert set(_names(visitor_id=shopper.visitor)) == {"sign_up", "login"}
