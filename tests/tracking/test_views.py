"""The collector over HTTP: consent, origin, limits, status codes and reasons."""

import json
import uuid

import pytest
from django.db.models import CharField
from django.urls import reverse

from tests.factories.tracking import RawEventFactory
from tracking.identity import CONSENT_COOKIE, SESSION_COOKIE, VISITOR_COOKIE
from tracking.models import Event, RejectedEvent

pytestmark = pytest.mark.django_db
ORIGIN = "http://testserver"


@pytest.fixture
def consented(client):
    response = client.post(reverse("tracking:consent"), {"choice": "granted"})
    assert response.status_code == 302
    return client


def post(client, body, **headers):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    headers.setdefault("HTTP_ORIGIN", ORIGIN)
    return client.post(reverse("tracking:collect"), data=data, content_type="application/json", **headers)


def test_consent_mints_visitor_and_session_cookies(consented):
    assert consented.cookies[CONSENT_COOKIE].value == "granted"
    uuid.UUID(consented.cookies[VISITOR_COOKIE].value)
    assert consented.cookies[SESSION_COOKIE]["max-age"] == 1800
    assert consented.cookies[VISITOR_COOKIE]["httponly"]


def test_no_consent_no_events(client):
    response = post(client, {"events": [RawEventFactory()]})
    assert response.status_code == 403
    assert response.json()["error"] == "consent_required"
    client.post(reverse("tracking:consent"), {"choice": "denied"})
    assert post(client, {"events": [RawEventFactory()]}).status_code == 403
    assert VISITOR_COOKIE not in client.cookies or client.cookies[VISITOR_COOKIE].value == ""
    assert not Event.objects.exists()


def test_accepted_batch_answers_202_after_storing(consented):
    batch = RawEventFactory.build_batch(25)
    response = post(consented, {"sent_at": batch[0]["ts"], "events": batch})
    assert response.status_code == 202
    assert response.json() == {"accepted": 25, "duplicates": 0, "rejected": []}
    visitor = uuid.UUID(consented.cookies[VISITOR_COOKIE].value)
    assert Event.objects.filter(visitor_id=visitor).count() == 25


def test_retried_batch_is_not_stored_twice(consented):
    batch = RawEventFactory.build_batch(3)
    post(consented, {"events": batch})
    response = post(consented, {"events": batch})
    assert response.status_code == 202
    assert response.json()["duplicates"] == 3
    assert Event.objects.count() == 3


def test_events_of_one_visit_share_a_session(consented):
    post(consented, {"events": [RawEventFactory()]})
    post(consented, {"events": [RawEventFactory()]})
    assert Event.objects.values("session_id").distinct().count() == 1


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ("{not json", 400, "bad_json"),
        ("[]", 400, "bad_batch"),
        ('{"events": {}}', 400, "bad_batch"),
        ('{"events": []}', 400, "empty_batch"),
        ("[" * 100_00 + "]" * 100_00, 400, "bad_json"),
    ],
)
def test_malformed_bodies_get_a_reason(consented, body, status, reason):
    response = post(consented, body)
    assert response.status_code == status
    assert response.json()["error"] == reason


def test_a_batch_of_only_bad_events_is_a_400_with_reasons(consented):
    response = post(consented, {"events": [{"name": "nope"}, "text"]})
    assert response.status_code == 400
    assert [item["reason"] for item in response.json()["rejected"]] == ["unknown_event", "bad_type"]
    assert RejectedEvent.objects.count() == 2


def test_too_large_and_too_long(consented, settings):
    response = post(consented, {"events": RawEventFactory.build_batch(101)})
    assert response.status_code == 413
    assert response.json()["error"] == "batch_too_long"
    settings.TRACKING_MAX_BODY_BYTES = 1000
    response = post(consented, {"events": RawEventFactory.build_batch(20)})
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"


def test_foreign_or_missing_origin_is_refused(consented):
    assert post(consented, {"events": [RawEventFactory()]}, HTTP_ORIGIN="https://evil.example").status_code == 403
    response = consented.post(
        reverse("tracking:collect"), data=json.dumps({"events": [RawEventFactory()]}), content_type="application/json"
    )
    assert response.status_code == 403
    referer_only = consented.post(
        reverse("tracking:collect"),
        data=json.dumps({"events": [RawEventFactory()]}),
        content_type="text/plain",
        HTTP_REFERER="http://testserver/p/some-product/",
    )
    assert referer_only.status_code == 202


def test_known_bots_are_filtered_not_stored(consented):
    response = post(
        consented, {"events": [RawEventFactory()]}, HTTP_USER_AGENT="Mozilla/5.0 (compatible; Googlebot/2.1)"
    )
    assert response.status_code == 202
    assert response.json()["ignored"] == "known_bot"
    assert not Event.objects.exists()


def test_rate_limit_per_visitor(consented, settings):
    settings.TRACKING_RATE_PER_VISITOR = 30
    assert post(consented, {"events": RawEventFactory.build_batch(25)}).status_code == 202
    response = post(consented, {"events": RawEventFactory.build_batch(25)})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert Event.objects.count() == 25


def test_collector_refuses_get(consented):
    assert consented.get(reverse("tracking:collect")).status_code == 405


def test_bad_consent_choice(client):
    response = client.post(reverse("tracking:consent"), {"choice": "maybe"})
    assert response.status_code == 400


def test_a_new_session_starts_after_thirty_idle_minutes(consented):
    post(consented, {"events": [RawEventFactory()]})
    # The session cookie slides 30 minutes on every response; once it has expired the
    # browser stops sending it, which is what deleting it here stands for.
    del consented.cookies[SESSION_COOKIE]
    post(consented, {"events": [RawEventFactory()]})
    sessions = list(Event.objects.order_by("id").values_list("session_id", flat=True))
    assert len(set(sessions)) == 2
    assert len(set(Event.objects.values_list("visitor_id", flat=True))) == 1


UNSTORABLE_NAMES = {
    "long": "n" * 70,
    "long_with_nuls": "\x00" * 70,
    "long_with_surrogates": "\ud800" * 70,
    "emails_to_mask": "a@b.cd " * 12,
}


@pytest.mark.parametrize("case", sorted(UNSTORABLE_NAMES))
def test_an_unknown_event_name_of_any_length_does_not_sink_the_good_events_beside_it(consented, case):
    good = RawEventFactory.build_batch(2)
    bad = {**RawEventFactory(), "name": UNSTORABLE_NAMES[case], "props": {"page_location": "x" * 400}}
    body = json.dumps({"events": [good[0], bad, good[1]]})
    response = post(consented, body)
    assert response.status_code == 202, response.content
    assert response.json()["accepted"] == 2
    assert {str(pk) for pk in Event.objects.values_list("event_id", flat=True)} == {e["event_id"] for e in good}
    rejected = RejectedEvent.objects.get()
    assert rejected.reason == "unknown_event"
    for field in RejectedEvent._meta.concrete_fields:
        if isinstance(field, CharField):
            assert len(getattr(rejected, field.attname)) <= field.max_length, field.name


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"name": "view_item", "product_id": "²"}, "bad_type"),
        ({"name": "view_item", "product_id": "①"}, "bad_type"),
        ({"name": "view_item", "product_id": "٣"}, "bad_type"),
        ({"name": "view_item", "product_id": "9" * 4000}, "bad_type"),
        ({"name": "page_view", "category_id": "²"}, "bad_type"),
        ({"name": "page_view", "ts": int("9" * 4000)}, "bad_timestamp"),
        ({"name": "page_view", "ts": -int("9" * 4000)}, "bad_timestamp"),
    ],
)
def test_unvalidated_numbers_get_a_reason_in_a_202_not_a_500(consented, event, reason):
    good = RawEventFactory()
    response = post(consented, json.dumps({"events": [good, {**RawEventFactory(), **event}]}))
    assert response.status_code == 202, response.content
    assert [item["reason"] for item in response.json()["rejected"]] == [reason]
    assert Event.objects.get().event_id == uuid.UUID(good["event_id"])
