"""Rebuilding live profiles from the record: one owner at a time, swapped in whole, bad records skipped."""

import uuid
from dataclasses import replace
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from personalization.profiles import Profile, profile_owner, profile_read
from shop.keyspace import profile_key, redis_client
from tests.factories.catalog import ProductFactory
from tests.factories.tracking import EventFactory, RawEventFactory
from tracking.services import event_ingest

pytestmark = pytest.mark.django_db


def _owner(visitor: uuid.UUID) -> str:
    return profile_owner(visitor_id=visitor, user_id=None)


def _profiles() -> set[str]:
    return {key.decode() for key in redis_client().scan_iter(match="prof:{*}:meta")}


def _rebuild(*owners: str) -> str:
    out = StringIO()
    call_command("rebuild_profiles", *owners, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_one_bad_record_is_reported_and_skipped_and_no_profile_is_lost():
    products = ProductFactory.create_batch(3)
    visitors = [uuid.uuid4() for _ in range(12)]
    for visitor in visitors:
        events = [RawEventFactory(name="view_item", product_id=product.pk) for product in products]
        event_ingest(events=events, visitor_id=visitor)
    found = _profiles()
    assert len(found) == len(visitors)
    # A forged cart change stored before ingest checked numbers, among the victim's good ones.
    victim, now = visitors[5], timezone.now()
    forged = EventFactory(
        name="add_to_cart", visitor_id=victim, product_id=products[0].pk, properties={"quantity": 10**20}
    )
    EventFactory(
        name="add_to_cart",
        visitor_id=victim,
        product_id=products[1].pk,
        properties={"quantity": 2},
        client_ts=now + timedelta(seconds=1),
    )

    output = _rebuild()

    assert str(forged.event_id) in output
    assert _owner(victim) in output
    assert "Rebuilt 12 profiles" in output
    assert _profiles() == found
    profile = profile_read(owner=_owner(victim))
    assert profile.cart == {products[1].pk: 2}
    assert set(profile.recent) == {product.pk for product in products}
    assert profile.counters == {"view_item": 3, "add_to_cart": 1}


def test_a_rebuild_replaces_each_profile_whole_and_keeps_those_the_record_no_longer_holds():
    product, stale = ProductFactory(), ProductFactory()
    visitor, forgotten = uuid.uuid4(), uuid.uuid4()
    event_ingest(events=[RawEventFactory(name="view_item", product_id=product.pk)], visitor_id=visitor)
    event_ingest(events=[RawEventFactory(name="view_item", product_id=product.pk)], visitor_id=forgotten)
    redis_client().hset(profile_key(_owner(visitor), "cart"), stale.pk, 5)  # drifted from the record
    from tracking.models import Event

    Event.objects.filter(visitor_id=forgotten).delete()  # e.g. past retention

    _rebuild()

    assert profile_read(owner=_owner(visitor)).cart == {}
    assert profile_read(owner=_owner(visitor)).recent == [product.pk]
    assert profile_read(owner=_owner(forgotten)).recent == [product.pk]
    assert not [key for key in redis_client().scan_iter(match="prof:*") if b":rebuild:" in key]


def test_rebuilding_named_owners_touches_no_other_profile():
    product = ProductFactory()
    visitor, other = uuid.uuid4(), uuid.uuid4()
    for owner in (visitor, other):
        event_ingest(events=[RawEventFactory(name="view_item", product_id=product.pk)], visitor_id=owner)
    redis_client().hset(profile_key(_owner(other), "cart"), product.pk, 1)
    output = _rebuild(_owner(visitor))
    assert "Rebuilt 1 profiles" in output
    assert profile_read(owner=_owner(other)).cart == {product.pk: 1}


def _comparable(profile: Profile) -> Profile:
    """A profile without what changes between two reads: its update time, and affinities
    decayed to the moment of reading (kept to six significant digits)."""

    def rounded(pairs):
        return [(member, float(f"{score:.6g}")) for member, score in pairs]

    return replace(profile, updated_ms=None, categories=rounded(profile.categories), brands=rounded(profile.brands))


def test_owners_spread_over_many_chunks_are_rebuilt_as_they_were_built_live(monkeypatch):
    from personalization import profiles

    products = ProductFactory.create_batch(4)
    visitors = [uuid.uuid4() for _ in range(5)]
    for visitor in visitors:
        events = [RawEventFactory(name="view_item", product_id=product.pk) for product in products]
        events.append(RawEventFactory(name="add_to_cart", product_id=products[0].pk, props={"quantity": 3}))
        event_ingest(events=events, visitor_id=visitor)
    live = {visitor: _comparable(profile_read(owner=_owner(visitor))) for visitor in visitors}
    EventFactory(name="add_to_cart", visitor_id=visitors[2], product_id=products[1].pk, properties={"quantity": 1e30})
    monkeypatch.setattr(profiles, "REBUILD_CHUNK", 2)  # every owner's events cross a chunk's end

    output = _rebuild()

    assert "Rebuilt 5 profiles, skipped 1 events" in output
    rebuilt = {visitor: _comparable(profile_read(owner=_owner(visitor))) for visitor in visitors}
    assert rebuilt == live
