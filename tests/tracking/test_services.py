"""The ingest service: validation, exactly-once storage, clock skew, PII, hooks."""

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from personalization.profiles import profile_owner, profile_read
from shop.keyspace import ingest_stats_key, redis_client
from tests.factories.catalog import ProductFactory
from tests.factories.tracking import RawEventFactory, now_ms
from tracking.analytics.quality import hour_floor
from tracking.models import Event, RejectedEvent
from tracking.registry import INT, NUM, NUMBER_RANGES, REGISTRY, STR, Source
from tracking.services import event_ingest
from tracking.validation import ITEM_KEYS, PII_KEYS

pytestmark = pytest.mark.django_db


def test_batch_is_stored_once_even_when_retried():
    visitor = uuid.uuid4()
    batch = RawEventFactory.build_batch(5)
    first = event_ingest(events=batch, visitor_id=visitor)
    again = event_ingest(events=batch, visitor_id=visitor)
    assert (first.accepted, first.duplicates) == (5, 0)
    assert (again.accepted, again.duplicates) == (0, 5)
    assert Event.objects.filter(visitor_id=visitor).count() == 5


def test_same_event_twice_in_one_batch_counts_as_duplicate():
    event = RawEventFactory()
    result = event_ingest(events=[event, dict(event)], visitor_id=uuid.uuid4())
    assert (result.accepted, result.duplicates) == (1, 1)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"name": "teleport"}, "unknown_event"),
        ({"event_id": "not-a-uuid"}, "bad_event_id"),
        ({"ts": "yesterday-ish"}, "bad_timestamp"),
        ({"ts": 0}, "bad_timestamp"),
        ({"ts": 946684800000}, "too_old"),
        ({"ts": 4102444800000}, "in_future"),
        ({"name": "view_item"}, "missing_field"),
        ({"name": "search", "props": {}}, "missing_field"),
        ({"name": "scroll", "props": {"percent": "half"}}, "bad_type"),
        ({"props": {"page_location": "x" * 600}}, "value_too_long"),
        ({"props": {"page_location": "a\x00b"}}, "bad_character"),
        ({"props": {"favourite_colour": "red"}}, "unknown_field"),
        ({"props": ["not", "an", "object"]}, "bad_type"),
        ({"name": "purchase", "props": {"transaction_id": "T1", "value": 10}}, "server_only"),
        ({"name": "view_item", "product_id": -4}, "bad_type"),
        ({"name": "view_item", "product_id": True}, "bad_type"),
    ],
)
def test_bad_events_are_rejected_with_a_reason_and_kept(raw, reason):
    event = {**RawEventFactory(), **raw}
    result = event_ingest(events=[event], visitor_id=uuid.uuid4())
    assert result.accepted == 0
    assert [item["reason"] for item in result.rejected] == [reason]
    assert not Event.objects.exists()
    assert RejectedEvent.objects.get().reason == reason


def test_good_events_survive_bad_neighbours():
    good, bad = RawEventFactory(), RawEventFactory(name="nope")
    result = event_ingest(events=[bad, good], visitor_id=uuid.uuid4())
    assert result.accepted == 1
    assert result.rejected[0]["index"] == 0
    assert Event.objects.get().event_id == uuid.UUID(good["event_id"])


def test_client_clock_skew_is_corrected_against_server_time():
    received = datetime.now(UTC)
    slow_clock = received - timedelta(hours=3)
    event = RawEventFactory(ts=int((slow_clock - timedelta(seconds=10)).timestamp() * 1000))
    event_ingest(
        events=[event], visitor_id=uuid.uuid4(), sent_at=int(slow_clock.timestamp() * 1000), received_at=received
    )
    stored = Event.objects.get()
    assert abs((stored.occurred_at - (received - timedelta(seconds=10))).total_seconds()) < 0.01
    assert stored.client_ts < stored.occurred_at - timedelta(hours=2)


def test_personal_data_never_reaches_the_store():
    event = RawEventFactory(
        name="search",
        props={"search_term": "gift for jane.doe@example.com call +44 20 7946 0958", "email": "x@y.z"},
    )
    event_ingest(events=[event], visitor_id=uuid.uuid4())
    stored = Event.objects.get().properties
    assert "email" not in stored
    assert "@" not in stored["search_term"]
    assert "7946" not in stored["search_term"]
    assert stored["search_term"].startswith("gift for [redacted]")


def test_no_registry_field_is_a_personal_data_key():
    """Validation looks for personal keys among unknown property names only."""
    fields = {key.lower() for spec in REGISTRY.values() for key in spec.fields}
    assert not fields & PII_KEYS


def test_ga4_ecommerce_items_are_kept_and_unknown_item_fields_dropped():
    product = ProductFactory()
    event = RawEventFactory(
        name="add_to_cart",
        product_id=product.pk,
        props={"currency": "GBP", "value": 12.5, "items": [{"item_id": str(product.pk), "quantity": 1, "coupon": "X"}]},
    )
    assert event_ingest(events=[event], visitor_id=uuid.uuid4()).accepted == 1
    assert Event.objects.get().properties["items"] == [{"item_id": str(product.pk), "quantity": 1}]


def test_stored_events_update_the_live_profile():
    visitor = uuid.uuid4()
    mug = ProductFactory()
    events = [
        RawEventFactory(name="view_item", product_id=mug.pk),
        RawEventFactory(name="add_to_cart", product_id=mug.pk, props={"quantity": 2}),
    ]
    event_ingest(events=events, visitor_id=visitor)
    profile = profile_read(owner=profile_owner(visitor_id=visitor, user_id=None))
    assert profile.recent == [mug.pk]
    assert profile.cart == {mug.pk: 2}
    assert profile.categories[0][0] == mug.category_id
    assert profile.brands[0][0] == mug.brand_id
    assert profile.counters == {"view_item": 1, "add_to_cart": 1}


def test_a_product_page_batch_counts_every_event_but_only_views_move_the_profile():
    """What a product page sends: a page view, the product viewed, impressions of its shelves."""
    visitor, shown, seen = uuid.uuid4(), ProductFactory(), ProductFactory()
    start = now_ms() - 5000
    events = [
        RawEventFactory(name="page_view", ts=start),
        RawEventFactory(name="view_item", product_id=seen.pk, ts=start + 100),
        *[RawEventFactory(name="impression", product_id=shown.pk, ts=start + 200 + i) for i in range(20)],
    ]
    event_ingest(events=events, visitor_id=visitor)
    profile = profile_read(owner=profile_owner(visitor_id=visitor, user_id=None))
    assert profile.counters == {"page_view": 1, "view_item": 1, "impression": 20}
    assert profile.recent == [seen.pk]
    assert [category for category, _ in profile.categories] == [seen.category_id]
    assert profile.first_seen.timestamp() == pytest.approx(start / 1000, abs=0.002)
    assert profile.last_seen.timestamp() == pytest.approx((start + 219) / 1000, abs=0.002)


def test_a_wishlisted_product_moves_its_brand_and_category_up_the_profile():
    visitor, liked = uuid.uuid4(), ProductFactory()
    event_ingest(events=[RawEventFactory(name="add_to_wishlist", product_id=liked.pk, props={})], visitor_id=visitor)
    profile = profile_read(owner=profile_owner(visitor_id=visitor, user_id=None))
    assert [brand for brand, _ in profile.brands] == [liked.brand_id]
    assert [category for category, _ in profile.categories] == [liked.category_id]
    assert profile.counters == {"add_to_wishlist": 1}


def test_profiles_and_counters_still_update_after_redis_forgets_its_scripts():
    """A restarted or flushed Redis has no cached Lua: the ingest resends the script's source."""
    visitor, mug = uuid.uuid4(), ProductFactory()
    redis_client().script_flush()
    result = event_ingest(events=[RawEventFactory(name="view_item", product_id=mug.pk)], visitor_id=visitor)
    assert result.accepted == 1
    assert profile_read(owner=profile_owner(visitor_id=visitor, user_id=None)).recent == [mug.pk]
    counters = redis_client().hgetall(ingest_stats_key(hour_floor(timezone.now())))
    assert counters == {b"web:accepted": b"1"}


def test_server_only_events_are_accepted_from_the_server():
    event = RawEventFactory(name="login", props={"method": "password"})
    assert event_ingest(events=[event], visitor_id=uuid.uuid4(), source=Source.SERVER).accepted == 1


def test_events_land_in_monthly_partitions():
    from django.db import connection

    event_ingest(events=[RawEventFactory(ts=now_ms())], visitor_id=uuid.uuid4())
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM tracking_event")
        (table,) = cursor.fetchone()
    month = datetime.now(UTC)
    assert table == f"tracking_event_y{month.year:04d}m{month.month:02d}"


def test_a_multi_item_event_counts_once_in_the_profile():
    visitor = uuid.uuid4()
    products = ProductFactory.create_batch(3)
    listing = RawEventFactory(name="view_item_list", props={"items": [{"item_id": str(p.pk)} for p in products]})
    event_ingest(events=[listing], visitor_id=visitor)
    profile = profile_read(owner=profile_owner(visitor_id=visitor, user_id=None))
    assert profile.counters == {"view_item_list": 1}


def test_the_collector_insert_is_prepared_once_per_connection():
    """Parsing and planning the INSERT for every batch cost Postgres ~40% more per batch."""
    for _ in range(2):
        event_ingest(events=[RawEventFactory()], visitor_id=uuid.uuid4())
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        statements = [statement for (statement,) in cursor.fetchall()]
    assert sum("INSERT INTO tracking_event" in statement for statement in statements) == 1


# ---- Numbers within named bounds ----

NUMERIC_FIELDS = sorted(
    {(name, key) for name, spec in REGISTRY.items() for key, kind in spec.fields.items() if kind in (INT, NUM)}
)
ITEM_NUMBERS = sorted(key for key, types in ITEM_KEYS.items() if int in types and key != "item_id")


def _event_with(name: str, props: dict) -> dict:
    spec = REGISTRY[name]
    required = {key: {STR: "x", INT: 1, NUM: 1.0}[kind] for key, kind in spec.required.items()}
    return RawEventFactory(name=name, product_id=7 if spec.needs_product else None, props={**required, **props})


def test_every_number_an_event_can_carry_has_a_named_bound():
    assert {key for _, key in NUMERIC_FIELDS} | set(ITEM_NUMBERS) <= set(NUMBER_RANGES)


@pytest.mark.parametrize(("name", "key"), NUMERIC_FIELDS)
def test_a_number_past_its_bound_is_rejected_with_a_reason(name, key):
    source = Source.SERVER if REGISTRY[name].server_only else Source.WEB
    low, high = NUMBER_RANGES[key]
    too_big, too_small = _event_with(name, {key: high + 1}), _event_with(name, {key: low - 1})
    fine = _event_with(name, {key: high})
    result = event_ingest(events=[too_big, too_small, fine], visitor_id=uuid.uuid4(), source=source)
    assert [(item["index"], item["reason"]) for item in result.rejected] == [(0, "out_of_range"), (1, "out_of_range")]
    assert f"{key} must be between {low} and {high}" in result.rejected[0]["detail"]
    assert result.accepted == 1


@pytest.mark.parametrize("key", ITEM_NUMBERS)
def test_an_item_number_past_its_bound_is_rejected_with_a_reason(key):
    _, high = NUMBER_RANGES[key]
    event = _event_with("view_item_list", {"items": [{"item_id": "7"}, {"item_id": "8", key: high * 10**12}]})
    result = event_ingest(events=[event], visitor_id=uuid.uuid4())
    assert [item["reason"] for item in result.rejected] == ["out_of_range"]
    assert result.rejected[0]["detail"].startswith(f"items[1].{key} must be between")


def test_an_item_id_too_large_for_an_id_is_rejected():
    event = _event_with("view_item_list", {"items": [{"item_id": 10**30}]})
    result = event_ingest(events=[event], visitor_id=uuid.uuid4())
    assert [item["reason"] for item in result.rejected] == ["bad_type"]


def test_a_forged_cart_quantity_is_refused_and_the_profile_keeps_working():
    product = ProductFactory()
    visitor = uuid.uuid4()
    forged = RawEventFactory(name="add_to_cart", product_id=product.pk, props={"quantity": 100000000000000000000})
    honest = RawEventFactory(name="add_to_cart", product_id=product.pk, props={"quantity": 2})
    result = event_ingest(events=[forged, honest], visitor_id=visitor)
    assert [item["reason"] for item in result.rejected] == ["out_of_range"]
    assert list(Event.objects.values_list("event_id", flat=True)) == [uuid.UUID(honest["event_id"])]
    assert profile_read(owner=profile_owner(visitor_id=visitor, user_id=None)).cart == {product.pk: 2}


# ---- One event id, stored once ----


@pytest.mark.parametrize(
    "event_id",
    [
        "{12345678-1234-4234-8234-123456789abc}",
        "urn:uuid:12345678-1234-4234-8234-123456789abc",
        "123456781234423482341234567890ab",
        "00000000-0000-0000-0000-000000000000",
        str(uuid.uuid1()),
        str(uuid.uuid5(uuid.NAMESPACE_URL, "https://example.com/")),
        "12345678-1234-4234-c234-123456789abc",  # not the RFC 4122 variant
        " 12345678-1234-4234-8234-123456789abc",
        "12345678-1234-4234-8234-123456789abc\n",
        "１2345678-1234-4234-8234-123456789abc",  # a full-width digit
        12345678,
    ],
)
def test_only_random_uuids_in_their_canonical_form_are_event_ids(event_id):
    result = event_ingest(events=[RawEventFactory(event_id=event_id)], visitor_id=uuid.uuid4())
    assert [item["reason"] for item in result.rejected] == ["bad_event_id"]
    assert not Event.objects.exists()


@pytest.mark.parametrize("event_id", [str(uuid.uuid4()), str(uuid.uuid4()).upper()])
def test_the_tracker_and_server_ids_are_accepted(event_id):
    assert event_ingest(events=[RawEventFactory(event_id=event_id)], visitor_id=uuid.uuid4()).accepted == 1


def test_one_event_id_is_stored_once_whatever_its_timestamp():
    visitor, event_id, now = uuid.uuid4(), str(uuid.uuid4()), timezone.now()
    first = event_ingest(events=[RawEventFactory(event_id=event_id, ts=now.isoformat())], visitor_id=visitor)
    moved = (now - timedelta(days=40)).isoformat()  # another month, so another partition, too
    again = [RawEventFactory(event_id=event_id, ts=(now - timedelta(minutes=3)).isoformat())]
    second = event_ingest(events=again, visitor_id=visitor)
    both = [RawEventFactory(event_id=event_id, ts=ts) for ts in (now.isoformat(), moved)]
    third = event_ingest(events=both, visitor_id=visitor, received_at=now)
    assert (first.accepted, second.accepted, second.duplicates) == (1, 0, 1)
    assert third.accepted == 0
    assert Event.objects.filter(event_id=event_id).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_requests_racing_with_one_id_and_different_times_store_it_once():
    assert connection.vendor == "postgresql"
    event_id, now, racers = str(uuid.uuid4()), timezone.now(), 8
    start = threading.Barrier(racers)
    accepted: list[int] = []

    def send(offset: int) -> None:
        try:
            ts = (now - timedelta(seconds=offset)).isoformat()
            start.wait()
            # A rejected neighbour puts the insert inside a transaction, the path a retried beacon takes.
            events = [RawEventFactory(event_id=event_id, ts=ts), RawEventFactory(name="nope")]
            accepted.append(event_ingest(events=events, visitor_id=uuid.uuid4()).accepted)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(offset,)) for offset in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(accepted) == [0] * (racers - 1) + [1]
    assert Event.objects.filter(event_id=event_id).count() == 1


# ---- The rejected-event log: masked, findable by visitor, kept briefly ----


def test_rejected_events_keep_their_visitor_and_no_email_or_phone_number():
    visitor = uuid.uuid4()
    event = RawEventFactory(
        name="jane.doe@example.com",
        props={"search_term": "call +44 20 7946 0958", "email": "jane@example.com", "phone": "07700 900123"},
    )
    event_ingest(events=[event], visitor_id=visitor)
    rejected = RejectedEvent.objects.get()
    assert rejected.visitor_id == visitor
    kept = " ".join([rejected.name, rejected.detail, rejected.payload])
    for personal in ("jane", "example.com", "7946", "900123"):
        assert personal not in kept
    assert "[redacted]" in rejected.payload
    assert str(event["ts"]) in rejected.payload  # numbers are not phone numbers


def test_a_visitors_rejected_events_are_exported_and_erased_with_their_events():
    from shop.accounts.privacy import personal_data_erase, personal_data_export
    from shop.accounts.selectors import DataSubject

    visitor, someone_else = uuid.uuid4(), uuid.uuid4()
    for owner in (visitor, someone_else):
        event_ingest(events=[RawEventFactory(), RawEventFactory(name="teleport")], visitor_id=owner)
    exported = personal_data_export(subject=DataSubject(user=None, visitor_id=visitor))["events"]
    assert [(item.get("rejected", False), item["name"]) for item in exported] == [
        (False, "page_view"),
        (True, "teleport"),
    ]
    assert exported[1]["reason"] == "unknown_event"
    personal_data_erase(subject=DataSubject(user=None, visitor_id=visitor))
    assert list(RejectedEvent.objects.values_list("visitor_id", flat=True)) == [someone_else]


def test_a_signed_in_shoppers_rejected_events_from_every_device_are_erased():
    from tests.factories.accounts import UserFactory
    from tracking.services import events_erase, identity_link

    user = UserFactory()
    phone, laptop = uuid.uuid4(), uuid.uuid4()
    for device in (phone, laptop):
        identity_link(visitor_id=device, user_id=user.pk)
        event_ingest(events=[RawEventFactory(name="teleport")], visitor_id=device, user_id=user.pk)
    events_erase(user_id=user.pk, visitor_id=None)
    assert not RejectedEvent.objects.exists()


def test_an_anonymous_holder_of_a_linked_visitor_id_gets_none_of_its_rejected_events():
    from tests.factories.accounts import UserFactory
    from tracking.services import events_erase, events_export, identity_link

    user, visitor = UserFactory(), uuid.uuid4()
    identity_link(visitor_id=visitor, user_id=user.pk)
    event_ingest(events=[RawEventFactory(name="teleport")], visitor_id=visitor, user_id=user.pk)
    assert events_export(user_id=None, visitor_id=visitor) == []
    assert events_erase(user_id=None, visitor_id=visitor) == 0
    assert [item["name"] for item in events_export(user_id=user.pk, visitor_id=None)] == ["teleport"]
