"""Register, log in, log out."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from tests.factories.accounts import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_register_logs_the_new_shopper_in(client):
    response = client.post(
        reverse("accounts:register"),
        {
            "username": "newbie",
            "email": "NewBie@Example.com",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="newbie")
    assert user.email == "newbie@example.com"
    assert client.get(reverse("home")).context["user"] == user


def test_register_refuses_a_taken_email(client):
    UserFactory(email="taken@example.com")
    response = client.post(
        reverse("accounts:register"),
        {
            "username": "other",
            "email": "taken@example.com",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
    )
    assert response.status_code == 400
    assert "already exists" in response.content.decode()


def test_login_and_logout(client):
    user = UserFactory()
    bad = client.post(reverse("accounts:login"), {"username": user.username, "password": "wrong"})
    assert bad.status_code == 200
    assert "enter a correct username and password" in bad.content.decode()
    good = client.post(reverse("accounts:login"), {"username": user.username, "password": PASSWORD})
    assert good.status_code == 302
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert not client.get(reverse("home")).context["user"].is_authenticated


def test_forms_are_csrf_protected():
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(reverse("accounts:login"), {"username": "x", "password": "y"})
    assert response.status_code == 403
    assert strict.post(reverse("orders:cart_add"), {"product_id": 1}).status_code == 403
