"""The collector over HTTP: consent, origin, limits, status codes and reasons."""

import json
import uuid
from datetime import UTC, datetime

import pytest
import time_machine
from django.db.models import CharField
from django.test import Client
from django.urls import reverse

from tests.factories.tracking import RawEventFactory
from tracking.identity import CONSENT_COOKIE, GRANTED, SESSION_COOKIE, VISITOR_COOKIE
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


def test_the_session_slide_renews_the_session_cookie_and_says_nothing_else(consented):
    session = consented.cookies[SESSION_COOKIE].value
    del consented.cookies[SESSION_COOKIE]["max-age"]
    response = consented.get(reverse("tracking:session"))
    assert (response.status_code, response.content, response["Cache-Control"]) == (204, b"", "no-store")
    assert response.cookies[SESSION_COOKIE].value == session
    assert response.cookies[SESSION_COOKIE]["max-age"] == 1800
    assert consented.post(reverse("tracking:session")).status_code == 405


def test_no_consent_no_events(client):
    response = post(client, {"events": [RawEventFactory()]})
    assert response.status_code == 403
    assert response.json()["error"] == "consent_required"
    client.post(reverse("tracking:consent"), {"choice": "denied"})
    assert post(client, {"events": [RawEventFactory()]}).status_code == 403
    assert VISITOR_COOKIE not in client.cookies or client.cookies[VISITOR_COOKIE].value == ""
    assert not Event.objects.exists()


def test_an_answer_to_a_request_sent_before_consent_leaves_the_ids_consent_minted(consented):
    visitor = consented.cookies[VISITOR_COOKIE].value
    # A page's images and fragments asked for before the banner's click answer after it: their
    # requests carried no consent and no ids, and their answers must not clear the new ones.
    late = Client().get("/")
    assert VISITOR_COOKIE not in late.cookies and SESSION_COOKIE not in late.cookies
    consented.cookies.update(late.cookies)
    assert post(consented, {"events": [RawEventFactory()]}).status_code == 202
    assert list(Event.objects.values_list("visitor_id", flat=True)) == [uuid.UUID(visitor)]


def test_denying_consent_clears_the_ids_the_browser_holds(consented):
    response = consented.post(reverse("tracking:consent"), {"choice": "denied"})
    assert response.cookies[VISITOR_COOKIE]["max-age"] == 0
    assert response.cookies[SESSION_COOKIE]["max-age"] == 0
    assert consented.cookies[VISITOR_COOKIE].value == ""


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
    assert response.json()["error"] == "rate_limited"
    assert int(response["Retry-After"]) > 0
    # The refused batch was not counted: what is left of the minute's allowance still goes in.
    assert post(consented, {"events": RawEventFactory.build_batch(5)}).status_code == 202
    assert Event.objects.count() == 30


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


# Documentation ranges (RFC 5737): a flooding client, a shopper in the same /24, one elsewhere.
ATTACKER, NEIGHBOUR, ELSEWHERE = "203.0.113.7", "203.0.113.99", "198.51.100.20"
PROXY = "10.0.0.2"


def browser(**environ) -> Client:
    """A browser that has given consent but has no visitor id yet: the collector's response mints one."""
    client = Client(**environ)
    client.cookies[CONSENT_COOKIE] = GRANTED
    return client


def batch(size: int = 25) -> dict:
    return {"events": RawEventFactory.build_batch(size)}


def test_a_flood_of_fresh_visitor_ids_is_cut_off_and_other_shoppers_are_served(settings):
    settings.TRACKING_NEW_VISITORS_PER_IP = 5
    settings.TRACKING_RATE_PER_IP = 200
    household = browser(REMOTE_ADDR=ATTACKER)
    assert post(household, batch()).status_code == 202

    # A script that drops its visitor cookie before every batch, so each one looks new.
    answers = [post(browser(REMOTE_ADDR=ATTACKER), batch()) for _ in range(30)]
    assert [answer.status_code for answer in answers[:4]] == [202] * 4
    assert {answer.status_code for answer in answers[4:]} == {429}
    refused = answers[-1]
    assert refused.json()["error"] == "too_many_new_visitors"
    assert 0 < int(refused["Retry-After"]) <= 3600

    # The refused flood used up nothing: a visitor already seen from that address still gets in,
    # and new shoppers elsewhere, even in the same /24, are served.
    assert post(household, batch()).status_code == 202
    assert post(browser(REMOTE_ADDR=NEIGHBOUR), batch()).status_code == 202
    assert post(browser(REMOTE_ADDR=ELSEWHERE), batch()).status_code == 202
    assert Event.objects.count() == 25 * 8


def test_the_new_visitor_budget_comes_back_next_hour_and_known_visitors_carry_over(settings):
    settings.TRACKING_NEW_VISITORS_PER_IP = 2
    top_of_the_hour = datetime.now(UTC).replace(minute=0, second=5, microsecond=0)
    with time_machine.travel(top_of_the_hour, tick=False) as clock:
        known = browser(REMOTE_ADDR=ATTACKER)
        assert post(known, batch(1)).status_code == 202
        assert post(browser(REMOTE_ADDR=ATTACKER), batch(1)).status_code == 202
        assert post(browser(REMOTE_ADDR=ATTACKER), batch(1)).status_code == 429
        clock.shift(3600)
        # Seen last hour: carried over without spending this hour's budget of two.
        assert post(known, batch(1)).status_code == 202
        assert [post(browser(REMOTE_ADDR=ATTACKER), batch(1)).status_code for _ in range(3)] == [202, 202, 429]


def test_shoppers_behind_the_trusted_proxy_get_buckets_of_their_own(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.TRACKING_RATE_PER_IP = 50
    first = browser(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.1")
    second = browser(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.2")
    assert [post(first, batch()).status_code for _ in range(3)] == [202, 202, 429]
    assert post(second, batch()).status_code == 202


def test_a_forwarded_address_from_an_untrusted_peer_is_ignored(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.TRACKING_NEW_VISITORS_PER_IP = 3
    answers = [
        post(browser(REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}"), batch(1)).status_code for n in range(5)
    ]
    assert answers == [202, 202, 202, 429, 429]


def test_an_ipv6_subscriber_is_one_bucket_whatever_address_it_picks_in_its_64(settings):
    settings.TRACKING_NEW_VISITORS_PER_IP = 2
    hosts = [f"2001:db8:1:2::{n:x}" for n in range(1, 4)]
    assert [post(browser(REMOTE_ADDR=host), batch(1)).status_code for host in hosts] == [202, 202, 429]
    assert post(browser(REMOTE_ADDR="2001:db8:1:3::1"), batch(1)).status_code == 202


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
