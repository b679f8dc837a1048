"""A shopper downloads everything held about them, and erases it."""

import json
import uuid

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from personalization.profiles import profile_owner, profile_read
from shop.orders.models import Order
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.catalog import ProductFactory
from tests.factories.orders import OrderLineFactory
from tests.factories.tracking import RawEventFactory
from tracking.identity import VISITOR_COOKIE
from tracking.models import Event, VisitorLink

pytestmark = pytest.mark.django_db


@pytest.fixture
def tracked_user(client, django_capture_on_commit_callbacks):
    user = UserFactory()
    client.post(reverse("tracking:consent"), {"choice": "granted"})
    visitor = uuid.UUID(client.cookies[VISITOR_COOKIE].value)
    product = ProductFactory()
    client.post(
        reverse("tracking:collect"),
        data={"events": [RawEventFactory(name="view_item", product_id=product.pk)]},
        content_type="application/json",
        HTTP_ORIGIN="http://testserver",
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:login"), {"username": user.username, "password": PASSWORD})
    OrderLineFactory(order__user=user, order__full_name="Ada Lovelace", order__email=user.email)
    return user, visitor, product


def test_download_holds_account_orders_events_and_profile(client, tracked_user):
    user, visitor, product = tracked_user
    response = client.post(reverse("accounts:privacy_download"))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="my-data.json"'
    data = json.loads(response.content)
    assert data["account"]["email"] == user.email
    assert data["orders"][0]["ship_to"][0] == "Ada Lovelace"
    assert {event["name"] for event in data["events"]} >= {"view_item", "login"}
    assert str(visitor) in data["visitor_ids"]
    assert data["profiles"][0]["recent"] == [product.pk]


def test_download_is_post_only_and_csrf_protected(tracked_user):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(tracked_user[0])
    assert strict.get(reverse("accounts:privacy_download")).status_code == 405
    assert strict.post(reverse("accounts:privacy_download")).status_code == 403


def test_erase_removes_events_profile_and_account_but_keeps_anonymous_orders(client, tracked_user):
    user, visitor, _ = tracked_user
    order = Order.objects.get(user=user)
    refused = client.post(reverse("accounts:privacy_erase"))
    assert refused.status_code == 400
    assert Event.objects.filter(user_id=user.pk).exists()

    response = client.post(reverse("accounts:privacy_erase"), {"confirm": "yes"}, follow=True)

    assert response.status_code == 200
    assert "Erased" in response.content.decode()
    assert not User.objects.filter(pk=user.pk).exists()
    assert not Event.objects.filter(visitor_id=visitor).exists()
    assert not Event.objects.filter(user_id=user.pk).exists()
    assert not VisitorLink.objects.exists()
    assert profile_read(owner=profile_owner(visitor_id=None, user_id=user.pk)).is_empty
    order.refresh_from_db()
    assert order.user is None
    assert (order.full_name, order.email, order.postcode) == ("erased", "erased@invalid", "")
    assert order.lines.count() == 1
    assert not response.context["user"].is_authenticated


def test_anonymous_visitor_can_erase_this_browser(client):
    client.post(reverse("tracking:consent"), {"choice": "granted"})
    visitor = uuid.UUID(client.cookies[VISITOR_COOKIE].value)
    client.post(
        reverse("tracking:collect"),
        data={"events": RawEventFactory.build_batch(3)},
        content_type="application/json",
        HTTP_ORIGIN="http://testserver",
    )
    assert Event.objects.filter(visitor_id=visitor).count() == 3
    client.post(reverse("accounts:privacy_erase"), {"confirm": "yes"})
    assert not Event.objects.exists()
    assert client.get(reverse("home")).context["tracking_consent"] is None


def test_privacy_page_renders_for_everyone(client):
    response = client.get(reverse("accounts:privacy"))
    assert response.status_code == 200
    assert "Download my data" in response.content.decode()
