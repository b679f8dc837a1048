"""A shopper downloads everything held about them, and erases it."""

import contextlib
import json
import uuid

import pandas as pd
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.backends.cached_db import SessionStore
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse
from django_redis import get_redis_connection

from bench._server import free_port
from personalization.profiles import profile_owner, profile_read
from segments.models import Membership
from segments.services import segments_backfill
from shop import keyspace
from shop.orders.models import Order
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.catalog import ProductFactory
from tests.factories.orders import OrderLineFactory
from tests.factories.segments import SegmentFactory
from tests.factories.tracking import EventFactory, RawEventFactory
from tracking.identity import CONSENT_COOKIE, SESSION_COOKIE, VISITOR_COOKIE
from tracking.importers.base import stable_uuids
from tracking.models import Event, VisitorLink

pytestmark = pytest.mark.django_db
ORIGIN = "http://testserver"


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


def test_erase_removes_events_profile_and_account_but_keeps_anonymous_orders(
    client, tracked_user, django_capture_on_commit_callbacks
):
    user, visitor, _ = tracked_user
    order = Order.objects.get(user=user)
    refused = client.post(reverse("accounts:privacy_erase"))
    assert refused.status_code == 400
    assert Event.objects.filter(user_id=user.pk).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:privacy_erase"), {"confirm": "yes", "password": PASSWORD}, follow=True)

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


def test_erase_takes_the_person_out_of_every_segment_in_postgres_and_redis(
    client, tracked_user, django_capture_on_commit_callbacks
):
    user, visitor, _ = tracked_user
    SegmentFactory(slug="browsers", definition={"event": "view_item", "within": "1d"})
    with django_capture_on_commit_callbacks(execute=True):
        segments_backfill()
    owner = f"u:{user.pk}"
    redis = get_redis_connection("default")
    assert Membership.objects.filter(owner=owner).exists()
    assert redis.sismember(keyspace.owner_segments_key(owner), "browsers")

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:privacy_erase"), {"confirm": "yes", "password": PASSWORD})

    assert not Membership.objects.filter(owner__in=[owner, f"v:{visitor}"]).exists()
    assert not redis.exists(keyspace.owner_segments_key(owner), keyspace.segment_counts_key(owner))
    assert redis.zscore(keyspace.segment_due_key(), owner) is None


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


# ---- whose data a request may see: the account's with its session, the cookie's anonymous ones ----


def _collect(client, *events):
    return client.post(
        reverse("tracking:collect"), data={"events": list(events)}, content_type="application/json", HTTP_ORIGIN=ORIGIN
    )


def _download(client) -> dict:
    response = client.post(reverse("accounts:privacy_download"))
    assert response.status_code == 200
    return json.loads(response.content)


def _browser_holding(visitor: uuid.UUID) -> Client:
    """Another browser whose cookies carry the same visitor id (copied, or left on a shared machine)."""
    browser = Client()
    browser.cookies[CONSENT_COOKIE] = "granted"
    browser.cookies[VISITOR_COOKIE] = str(visitor)
    return browser


@pytest.fixture
def shopper_who_left(client, django_capture_on_commit_callbacks):
    """A shopper logs in, searches for something private, buys, and logs out."""
    user = UserFactory()
    client.post(reverse("tracking:consent"), {"choice": "granted"})
    visitor = uuid.UUID(client.cookies[VISITOR_COOKIE].value)
    session = client.cookies[SESSION_COOKIE].value
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:login"), {"username": user.username, "password": PASSWORD})
    with django_capture_on_commit_callbacks(execute=True):
        client.get(reverse("catalog:search"), {"q": "pregnancy test"})
        EventFactory(
            name="purchase",
            visitor_id=visitor,
            user_id=user.pk,
            properties={"transaction_id": "LL-20240117-0042", "value": 9.99},
        )
    client.post(reverse("accounts:logout"))
    return user, visitor, session


def _private(data: dict) -> str:
    return json.dumps(data)


def test_logout_starts_a_new_visitor_and_tracking_session(client, shopper_who_left):
    _, visitor, session = shopper_who_left
    assert client.cookies[VISITOR_COOKIE].value not in ("", str(visitor))
    assert client.cookies[SESSION_COOKIE].value not in ("", session)


def test_the_next_person_at_the_browser_sees_and_erases_nothing_of_the_shopper(client, shopper_who_left):
    user, _, _ = shopper_who_left
    held = Event.objects.filter(user_id=user.pk).count()
    _collect(client, RawEventFactory(name="page_view"))

    data = _download(client)
    assert "pregnancy test" not in _private(data)
    assert "LL-20240117-0042" not in _private(data)
    assert {event["name"] for event in data["events"]} == {"page_view"}
    assert "account" not in data

    client.post(reverse("accounts:privacy_erase"), {"confirm": "yes"})
    assert Event.objects.filter(user_id=user.pk).count() == held
    assert not profile_read(owner=profile_owner(visitor_id=None, user_id=user.pk)).is_empty


def test_a_copied_visitor_cookie_reaches_only_anonymous_events_never_the_linked_account(shopper_who_left):
    user, visitor, _ = shopper_who_left
    assert VisitorLink.objects.filter(visitor_id=visitor, user=user).exists()
    other = _browser_holding(visitor)
    _collect(other, RawEventFactory(name="page_view"))

    data = _download(other)
    assert "pregnancy test" not in _private(data)
    assert "LL-20240117-0042" not in _private(data)
    assert [event["name"] for event in data["events"]] == ["page_view"]
    assert all(profile["owner"] != f"u:{user.pk}" for profile in data["profiles"])

    held = Event.objects.filter(user_id=user.pk).count()
    other.post(reverse("accounts:privacy_erase"), {"confirm": "yes"})
    assert Event.objects.filter(user_id=user.pk).count() == held
    assert not Event.objects.filter(visitor_id=visitor, user_id__isnull=True).exists()
    assert VisitorLink.objects.filter(visitor_id=visitor, user=user).exists()


def test_another_account_logging_in_on_the_same_visitor_id_sees_only_its_own_events(
    shopper_who_left, django_capture_on_commit_callbacks
):
    first, visitor, _ = shopper_who_left
    second = UserFactory()
    other = _browser_holding(visitor)
    with django_capture_on_commit_callbacks(execute=True):
        other.post(reverse("accounts:login"), {"username": second.username, "password": PASSWORD})

    data = _download(other)
    assert "pregnancy test" not in _private(data)
    assert {event["name"] for event in data["events"]} == {"login"}

    other.post(reverse("accounts:privacy_erase"), {"confirm": "yes", "password": PASSWORD})
    assert not User.objects.filter(pk=second.pk).exists()
    assert Event.objects.filter(user_id=first.pk, name="search").exists()


def test_erasing_an_account_asks_for_its_password(client, tracked_user):
    user, _, _ = tracked_user
    page = client.get(reverse("accounts:privacy"))
    assert 'name="password"' in page.content.decode()

    refused = client.post(reverse("accounts:privacy_erase"), {"confirm": "yes", "password": "not-it"})
    assert refused.status_code == 400
    assert "password is not right" in refused.content.decode()
    assert User.objects.filter(pk=user.pk).exists()
    assert Event.objects.filter(user_id=user.pk).exists()

    missing = client.post(reverse("accounts:privacy_erase"), {"confirm": "yes"})
    assert missing.status_code == 400
    assert User.objects.filter(pk=user.pk).exists()


def test_guessing_the_password_on_the_erase_form_locks_like_a_login(client, tracked_user, settings):
    """A session left open is no oracle: wrong erase passwords count towards the login lockout."""
    user, _, _ = tracked_user
    answers = [
        client.post(reverse("accounts:privacy_erase"), {"confirm": "yes", "password": "guess"}).status_code
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert answers == [400] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    locked = client.post(reverse("accounts:privacy_erase"), {"confirm": "yes", "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many failed attempts; try again in" in locked.content.decode()
    assert User.objects.filter(pk=user.pk).exists()
    assert Event.objects.filter(user_id=user.pk).exists()


def test_erase_ends_the_accounts_sessions_on_every_device(client, tracked_user, django_capture_on_commit_callbacks):
    user, _, _ = tracked_user
    phone = Client()
    phone.post(reverse("accounts:login"), {"username": user.username, "password": PASSWORD})
    phone_key = phone.cookies[settings.SESSION_COOKIE_NAME].value
    cache_key = SessionStore(session_key=phone_key).cache_key
    assert cache.get(cache_key) is not None

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:privacy_erase"), {"confirm": "yes", "password": PASSWORD})

    assert not Session.objects.filter(session_key=phone_key).exists()
    assert cache.get(cache_key) is None
    assert not phone.get(reverse("home")).context["user"].is_authenticated


# ---- Redis away: the record still answers, and what Redis holds is forgotten once it is back ----


@contextlib.contextmanager
def _redis_unreachable():
    """Django's cache and the profile store pointed at a port nothing listens on."""
    caches = {"default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{free_port()}/0"}}
    with override_settings(CACHES=caches):
        yield


def test_download_while_redis_is_down_gives_the_record_and_says_the_profile_could_not_be_read(client, tracked_user):
    with _redis_unreachable():
        response = client.post(reverse("accounts:privacy_download"))
    assert response.status_code == 200
    data = json.loads(response.content)
    assert {event["name"] for event in data["events"]} >= {"view_item", "login"}
    assert data["account"]["username"] == tracked_user[0].username
    assert data["profiles"] is None
    assert "could not be read" in data["profiles_unavailable"]


def test_erase_while_redis_is_down_succeeds_and_the_profile_goes_once_redis_answers(
    client, tracked_user, django_capture_on_commit_callbacks
):
    user, _, _ = tracked_user
    keys = keyspace.profile_keys(profile_owner(visitor_id=None, user_id=user.pk))
    live = get_redis_connection("default")
    assert live.exists(*keys) and live.ttl(keys[0]) == -1  # an account's profile never expires on its own

    with _redis_unreachable(), django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:privacy_erase"), {"confirm": "yes", "password": PASSWORD}, follow=True)

    assert response.status_code == 200
    assert "Erased" in response.content.decode()
    assert not User.objects.filter(pk=user.pk).exists()
    assert not Event.objects.filter(user_id=user.pk).exists()
    assert live.exists(*keys), "Redis was away: the keys are still there, and recorded"

    # The next erase that reaches Redis takes the earlier one's keys with it.
    other = Client()
    other.post(reverse("tracking:consent"), {"choice": "granted"})
    _collect(other, RawEventFactory(name="page_view"))
    with django_capture_on_commit_callbacks(execute=True):
        other.post(reverse("accounts:privacy_erase"), {"confirm": "yes"})
    assert not live.exists(*keys)


def test_the_beat_schedule_retries_erasures_until_redis_answers(client, tracked_user, celery_eager):
    from personalization.tasks import erasures_complete

    user, _, _ = tracked_user
    keys = keyspace.profile_keys(profile_owner(visitor_id=None, user_id=user.pk))
    live = get_redis_connection("default")
    with _redis_unreachable():
        client.post(reverse("accounts:privacy_erase"), {"confirm": "yes", "password": PASSWORD})
        erasures_complete.delay()  # Redis still away: nothing lost, nothing done
    assert live.exists(*keys)

    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "personalization.tasks.erasures_complete" in scheduled
    erasures_complete.delay()
    assert not live.exists(*keys)


def test_a_cookie_forged_from_an_imported_customers_computable_id_reaches_nothing(client):
    """Imported visitors' ids are uuid5 of the customer number: anyone can compute them."""
    imported = uuid.UUID(str(stable_uuids(pd.Series(["17850"]), dataset="online_retail", kind="visitor")[0]))
    EventFactory(visitor_id=imported, source="import", name="purchase")
    client.post(reverse("tracking:consent"), {"choice": "granted"})

    client.cookies[VISITOR_COOKIE] = str(imported)
    download = client.post(reverse("accounts:privacy_download"))
    assert json.loads(download.content)["events"] == []

    # Nor can it post as them: the collector mints this browser a visitor id of its own.
    client.cookies[VISITOR_COOKIE] = str(imported)
    client.post(
        reverse("tracking:collect"),
        data={"events": [RawEventFactory()]},
        content_type="application/json",
        HTTP_ORIGIN="http://testserver",
    )
    assert Event.objects.exclude(visitor_id=imported).count() == 1

    client.cookies[VISITOR_COOKIE] = str(imported)
    client.post(reverse("accounts:privacy_erase"), {"confirm": "yes"})
    assert Event.objects.filter(visitor_id=imported).count() == 1
