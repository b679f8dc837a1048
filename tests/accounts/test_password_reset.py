"""A forgotten password: Django's reset through the shop's mail, limited, telling no one which e-mails have accounts."""

import re

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings

from tests.factories.accounts import PASSWORD, UserFactory
from tests.fuzzing import assert_clean_answer, encoded, pairs_of

pytestmark = pytest.mark.django_db

RESET = reverse("accounts:password_reset")
NEW_PASSWORD = "a-brand-new-pass-phrase"


def _main(response) -> bytes:
    """The page's own content, without the nonces and tokens that differ on every page."""
    return re.search(rb"<main.*</main>", response.content, re.S).group(0)


def _link(message) -> str:
    return re.search(r"https?://testserver(/account/password-reset/\S+/)", message.body).group(1)


def test_a_shopper_resets_a_forgotten_password_from_the_mailed_link(
    client, celery_eager, django_capture_on_commit_callbacks
):
    user = UserFactory(email="ada@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(RESET, {"email": "ADA@example.com"})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_reset_done")
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]
    assert "choose a new password" in mail.outbox[0].subject

    form_page = client.get(_link(mail.outbox[0]), follow=True)
    assert b"Choose a new password" in form_page.content
    done = client.post(form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == reverse("accounts:password_reset_complete")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)

    # The link works once: the password it was made for has changed.
    again = client.get(_link(mail.outbox[0]), follow=True)
    assert b"This link no longer works" in again.content


def test_an_unknown_email_gets_the_same_answer_and_no_mail(client, celery_eager, django_capture_on_commit_callbacks):
    UserFactory(email="ada@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        known = client.post(RESET, {"email": "ada@example.com"}, follow=True)
        unknown = client.post(RESET, {"email": "nobody@example.com"}, follow=True)
    assert known.status_code == unknown.status_code == 200
    assert known.redirect_chain == unknown.redirect_chain
    assert _main(known) == _main(unknown)
    assert len(mail.outbox) == 1


def test_the_mail_is_sent_by_a_worker_not_while_the_shopper_waits(
    client, monkeypatch, django_capture_on_commit_callbacks
):
    """The answer is given before any mail is rendered or sent, so its timing says nothing."""
    from shop.accounts import services

    UserFactory(email="ada@example.com")
    asked = []
    # Catch the request to the broker: what matters is that the page did not send the mail itself.
    monkeypatch.setattr(services, "_worker_ask", lambda **kwargs: asked.append(kwargs))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(RESET, {"email": "ada@example.com"})
    assert mail.outbox == []
    assert [ask["domain"] for ask in asked] == ["testserver"]


def test_resets_are_limited_per_email_and_per_address(client, settings):
    settings.ACCOUNTS_PASSWORD_RESETS_PER_EMAIL = 2
    settings.ACCOUNTS_PASSWORD_RESETS_PER_IP = 4
    answers = [client.post(RESET, {"email": "someone@example.com"}).status_code for _ in range(3)]
    assert answers == [302, 302, 429]
    refused = client.post(RESET, {"email": "someone-else@example.com"})
    assert refused.status_code == 302  # the fourth try of this address, for another e-mail
    from_here = client.post(RESET, {"email": "third@example.com"})
    assert from_here.status_code == 429
    assert "Too many reset requests from your network; try again in" in from_here.content.decode()
    assert int(from_here["Retry-After"]) > 0


def test_the_per_email_limit_counts_from_every_address(settings):
    settings.ACCOUNTS_PASSWORD_RESETS_PER_EMAIL = 1
    assert Client(REMOTE_ADDR="192.0.2.1").post(RESET, {"email": "ada@example.com"}).status_code == 302
    refused = Client(REMOTE_ADDR="192.0.2.2").post(RESET, {"email": "ada@example.com"})
    assert refused.status_code == 429
    assert "Several reset links went to this e-mail address already" in refused.content.decode()


def test_a_bad_email_is_refused_with_a_reason(client):
    response = client.post(RESET, {"email": "not-an-email"})
    assert response.status_code == 400
    assert "Enter a valid email address" in response.content.decode()


def test_a_new_password_breaking_the_rules_is_refused_with_a_reason(
    client, celery_eager, django_capture_on_commit_callbacks
):
    UserFactory(email="ada@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(RESET, {"email": "ada@example.com"})
    form_page = client.get(_link(mail.outbox[0]), follow=True)
    response = client.post(form_page.redirect_chain[-1][0], {"new_password1": "short", "new_password2": "short"})
    assert response.status_code == 400
    assert "too short" in response.content.decode()
    assert User.objects.get(email="ada@example.com").check_password(PASSWORD)


def test_the_login_page_links_to_the_reset(client):
    assert RESET in client.get(reverse("accounts:login")).content.decode()


def test_reset_forms_are_csrf_protected():
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(RESET, {"email": "ada@example.com"}).status_code == 403
    confirm = reverse("accounts:password_reset_confirm", kwargs={"uidb64": "MQ", "token": "set-password"})
    assert strict.post(confirm, {"new_password1": "x", "new_password2": "x"}).status_code == 403


@hypothesis_settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(pairs=pairs_of(("email",)))
@example(pairs=[("email", b"\x00")])
@example(pairs=[("email", b"ada@example.com\x00")])
@example(pairs=[("email", b"\xff\xfe@example.com")])
@example(pairs=[("email", b"@" * 300)])
def test_any_reset_request_gets_a_page_a_redirect_or_a_4xx(settings, pairs):
    settings.ACCOUNTS_PASSWORD_RESETS_PER_IP = settings.ACCOUNTS_PASSWORD_RESETS_PER_EMAIL = 10**9
    client = Client(raise_request_exception=False)
    response = client.post(RESET, encoded(pairs), content_type="application/x-www-form-urlencoded")
    assert_clean_answer(response, pairs)


@hypothesis_settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(pairs=pairs_of(("new_password1", "new_password2")), uid=pairs_of(("uid",)))
def test_any_reset_confirmation_gets_a_page_a_redirect_or_a_4xx(pairs, uid):
    client = Client(raise_request_exception=False)
    uidb64 = encoded(uid).replace("/", "%2F")[:40] or "MQ"
    response = client.post(
        f"/account/password-reset/{uidb64}/set-password/",
        encoded(pairs),
        content_type="application/x-www-form-urlencoded",
    )
    assert_clean_answer(response, pairs)
