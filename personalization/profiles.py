"""Live visitor profiles in Redis: applied per batch by one Lua call, read in one round trip.

Postgres holds the events; a profile is derived from them and can always be rebuilt.
"""

import json
import math
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from redis.exceptions import ResponseError

from shop.catalog.models import Product
from shop.keyspace import RedisBatch, profile_keys, profile_staging_keys, redis_client
from tracking.items import event_items
from tracking.owners import Owner, owner_key

from .recommenders.base import EVENT_WEIGHTS

PROFILE_TOP = 10


def profile_owner(*, visitor_id, user_id: int | None) -> str:
    """Signed-in shoppers have one profile across devices; others one per visitor id: the
    event record's owner (tracking/owners.py)."""
    return owner_key(user_id=user_id, visitor_id=visitor_id)


@dataclass(frozen=True)
class Profile:
    owner: str
    recent: list[int] = field(default_factory=list)
    categories: list[tuple[int, float]] = field(default_factory=list)
    brands: list[tuple[int, float]] = field(default_factory=list)
    cart: dict[int, int] = field(default_factory=dict)
    bought: list[int] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    updated_ms: int | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.recent or self.categories or self.cart or self.bought or self.counters)


def _half_life_seconds() -> float:
    return settings.PROFILE_HALF_LIFE_DAYS * 86400


# product id -> (category, brand) of every product, per process: a read-only snapshot that
# is reloaded whole after FACTS_TTL seconds, so the ingest hook does not query the catalog on
# every batch (that query cost ~1.3 ms of CPU per batch, a third of the hook). A product the
# snapshot does not know yet is looked up on its own; a changed category shows within the TTL.
FACTS_TTL = 60.0
_facts: dict[int, tuple[int, int | None]] = {}
_facts_loaded_at = float("-inf")


def _product_facts(product_ids: Iterable[int]) -> dict[int, tuple[int, int | None]]:
    global _facts, _facts_loaded_at
    ids = {pid for pid in product_ids if pid}
    if not ids:
        return {}
    if time.monotonic() - _facts_loaded_at > FACTS_TTL:
        rows = Product.objects.values_list("pk", "category_id", "brand_id")
        _facts, _facts_loaded_at = {pk: (category, brand) for pk, category, brand in rows}, time.monotonic()
    missing = ids - _facts.keys()
    if missing:
        rows = Product.objects.filter(pk__in=missing).values_list("pk", "category_id", "brand_id")
        _facts = {**_facts, **{pk: (category, brand) for pk, category, brand in rows}}
    return {pid: _facts[pid] for pid in ids if pid in _facts}


def _item_ids(event) -> list[tuple[int, int]]:
    """(product id, quantity) pairs an event is about (live events only: imports get no profile)."""
    return [
        (item.item, item.quantity) for item in event_items(product_id=event.product_id, properties=event.properties)
    ]


# What the profile tracks per product besides affinities: recent views, the cart, purchases.
PRODUCT_ACTIONS = frozenset({"view_item", "select_item", "add_to_cart", "remove_from_cart", "purchase"})


def _moves_profile(event) -> bool:
    """Whether an event does more than add one to its name's counter."""
    return event.name in PRODUCT_ACTIONS or EVENT_WEIGHTS.get(event.name, 0.0) > 0


def _payload_events(events, facts: dict[int, tuple[int, int | None]]) -> list[dict]:
    """An entry per product of each event that moves the profile (multi-item events have several)."""
    entries = []
    for event in events:
        t = event.occurred_at.timestamp()
        weight = EVENT_WEIGHTS.get(event.name, 0.0)
        pairs = _item_ids(event)
        if not pairs:
            entries.append({"n": event.name, "t": t, "c": event.category_id, "w": weight})
        for product_id, quantity in pairs:
            category, brand = facts.get(product_id, (event.category_id, None))
            entry = {"n": event.name, "t": t, "p": product_id, "c": category, "b": brand, "q": quantity, "w": weight}
            entries.append(entry)
    return entries


# What a malformed record can raise while its profile update is prepared.
RECORD_ERRORS = (TypeError, ValueError, KeyError, AttributeError, OverflowError)


def _fact_ids(events) -> set[int]:
    """The products whose category and brand the profile update of these events needs."""
    ids: set[int] = set()
    for event in events:
        if _moves_profile(event):
            try:
                ids.update(product_id for product_id, _ in _item_ids(event))
            except RECORD_ERRORS:
                continue  # a malformed old record (properties not an object): the rebuild meets it again and skips it
    return ids


def _by_owner(events) -> dict[str, list]:
    """Events grouped by profile owner (in order of first appearance), each owner's in time order."""
    by_owner: dict[str, list] = defaultdict(list)
    for event in events:
        by_owner[profile_owner(visitor_id=event.visitor_id, user_id=event.user_id)].append(event)
    for owned in by_owner.values():
        owned.sort(key=lambda event: event.occurred_at)
    return by_owner


def _anonymous_since() -> datetime:
    """Anonymous profiles expire this long after their last event: older events rebuild nothing."""
    return datetime.now(UTC) - timedelta(days=settings.PROFILE_ANONYMOUS_TTL_DAYS)


def _anonymous_ttl(owner: str) -> int:
    return settings.PROFILE_ANONYMOUS_TTL_DAYS * 86400 if Owner.parse(owner).is_anonymous else 0


def _apply_queue(batch: RedisBatch, *, owned: list, facts: dict, keys: list[str], ttl: int, now_ms: int) -> int:
    """Queue one owner's events (in time order) as one profile_apply call on keys; returns
    where its reply will be."""
    payload = {
        "half_life": _half_life_seconds(),
        "recent_cap": settings.PROFILE_RECENT_CAP,
        "ttl": ttl,
        "now_ms": now_ms,
        "first": owned[0].occurred_at.timestamp(),
        "last": owned[-1].occurred_at.timestamp(),
        "counts": Counter(event.name for event in owned),
        "events": _payload_events([event for event in owned if _moves_profile(event)], facts),
    }
    return batch.script("profile_apply", keys=keys, args=[json.dumps(payload)])


def profiles_apply(events: list, *, batch: RedisBatch | None = None) -> int:
    """Apply stored events to their owners' profiles: one Lua call per owner in the batch.

    Every event counts once under its name; only events that move affinities, recent views,
    the cart or purchases travel one by one (a product page's batch is mostly impressions,
    which only count). Given a RedisBatch, the calls are queued on it for the caller to send
    with its own commands; otherwise they are sent here.
    """
    by_owner = _by_owner(events)
    facts = _product_facts(_fact_ids(events))
    own = batch is None
    batch = batch if batch is not None else RedisBatch()
    now_ms = int(time.time() * 1000)
    for owner, owned in by_owner.items():
        _apply_queue(
            batch, owned=owned, facts=facts, keys=profile_keys(owner), ttl=_anonymous_ttl(owner), now_ms=now_ms
        )
    if own:
        batch.execute()
    return len(by_owner)


def _decayed(pairs, now: float) -> list[tuple[int, float]]:
    rate = math.log(2) / _half_life_seconds()
    return [(int(member), math.exp(score - rate * now)) for member, score in pairs]


def _when(raw) -> datetime | None:
    return datetime.fromtimestamp(float(raw), tz=UTC) if raw is not None else None


PROFILE_READS = 6  # commands profile_queue adds to a pipeline


def profile_queue(pipe, *, owner: str) -> None:
    """Queue the reads of a whole profile on a pipeline, so a page can add its own reads."""
    recent, cat, brand, cart, bought, meta = profile_keys(owner)
    pipe.lrange(recent, 0, -1)
    pipe.zrevrange(cat, 0, PROFILE_TOP - 1, withscores=True)
    pipe.zrevrange(brand, 0, PROFILE_TOP - 1, withscores=True)
    pipe.hgetall(cart)
    pipe.zrevrange(bought, 0, -1)
    pipe.hgetall(meta)


def profile_from_replies(*, owner: str, replies: list) -> Profile:
    recent_ids, categories, brands, cart_map, bought_ids, meta_map = replies
    meta_map = {key.decode(): value.decode() for key, value in meta_map.items()}
    now = time.time()
    return Profile(
        owner=owner,
        recent=[int(pid) for pid in recent_ids],
        categories=_decayed(categories, now),
        brands=_decayed(brands, now),
        cart={int(pid): int(qty) for pid, qty in cart_map.items()},
        bought=[int(pid) for pid in bought_ids],
        counters={key[2:]: int(value) for key, value in meta_map.items() if key.startswith("n:")},
        first_seen=_when(meta_map.get("first_seen")),
        last_seen=_when(meta_map.get("last_seen")),
        updated_ms=int(meta_map["updated_ms"]) if "updated_ms" in meta_map else None,
    )


def profile_read(*, owner: str, client=None) -> Profile:
    """The whole profile in one round trip (a pipeline of reads, no MULTI needed)."""
    pipe = (client or redis_client()).pipeline(transaction=False)
    profile_queue(pipe, owner=owner)
    return profile_from_replies(owner=owner, replies=pipe.execute())


def profile_delete(*, owner: str) -> None:
    redis_client().delete(*profile_keys(owner))


# Events per Lua call when rebuilding: big enough to amortise the round trip, small
# enough that one call never blocks Redis for long (a 2,000-event call took ~3 ms).
REBUILD_CHUNK = 2000
# A rebuilt profile waits in staging keys only until it is swapped in; keys a stopped rebuild
# left behind expire after an hour.
STAGING_TTL = 3600


@dataclass(frozen=True)
class SkippedEvent:
    owner: str
    event_id: uuid.UUID
    error: str


@dataclass
class RebuildResult:
    rebuilt: int = 0
    # Events the profile could not take (a forged number stored before ingest checked it).
    skipped: list[SkippedEvent] = field(default_factory=list)
    # Owners whose profile was left as it was because even its good events would not apply.
    unchanged: list[str] = field(default_factory=list)


def _swap(owners: list[str]) -> None:
    """Swap the rebuilt profiles in, each atomically, in one round trip."""
    if not owners:
        return
    batch = RedisBatch()
    for owner in owners:
        keys = [*profile_staging_keys(owner), *profile_keys(owner)]
        batch.script("profile_swap", keys=keys, args=[_anonymous_ttl(owner)])
    batch.execute()


def _rebuild_skipping(owner: str, result: RebuildResult) -> None:
    """Rebuild one owner's profile whose events would not all apply: find the events that
    fail on their own, then build from the rest and swap that in."""
    from tracking.selectors import events_for_rebuild

    chunks = events_for_rebuild(owners={owner}, anonymous_since=_anonymous_since(), chunk=REBUILD_CHUNK)
    events = [event for chunk in chunks for event in chunk]
    staging = profile_staging_keys(owner)
    facts = _product_facts(_fact_ids(events))
    now_ms = int(time.time() * 1000)
    batch = RedisBatch()
    batch.pipe.delete(*staging)
    calls = []
    for event in events:
        try:
            calls.append(
                (event, _apply_queue(batch, owned=[event], facts=facts, keys=staging, ttl=STAGING_TTL, now_ms=now_ms))
            )
        except RECORD_ERRORS as error:
            result.skipped.append(SkippedEvent(owner=owner, event_id=event.event_id, error=repr(error)))
    replies = batch.execute(raise_on_error=False)
    for event, position in calls:
        if isinstance(replies[position], ResponseError):
            result.skipped.append(SkippedEvent(owner=owner, event_id=event.event_id, error=str(replies[position])))
    skipped = {item.event_id for item in result.skipped if item.owner == owner}
    good = [event for event in events if event.event_id not in skipped]
    # A script that fails part-way keeps what it wrote before the failure: start again clean.
    batch = RedisBatch()
    batch.pipe.delete(*staging)
    positions = [
        _apply_queue(
            batch, owned=good[start : start + REBUILD_CHUNK], facts=facts, keys=staging, ttl=STAGING_TTL, now_ms=now_ms
        )
        for start in range(0, len(good), REBUILD_CHUNK)
    ]
    replies = batch.execute(raise_on_error=False)
    if not good or any(isinstance(replies[position], ResponseError) for position in positions):
        redis_client().delete(*staging)
        result.unchanged.append(owner)
        return
    _swap([owner])
    result.rebuilt += 1


def profiles_rebuild(*, owners: set[str] | None = None, progress: Callable[[int], None] | None = None) -> RebuildResult:
    """Rebuild profiles from the event record: all of them, or the named owners'.

    Each owner's profile is assembled beside the live one and then swapped in whole, so every
    profile stays readable throughout and a rebuild stopped part-way (Redis gone) leaves each
    one either old or new, never missing. Profiles of owners with no events in the record are
    left as they are. An event the profile cannot take is reported in the result and skipped;
    its owner is rebuilt from the rest. Two round trips per chunk of events, whatever the owners.
    """
    from tracking.selectors import events_for_rebuild

    result = RebuildResult()
    broken: set[str] = set()
    carried: str | None = None  # the last owner of the previous chunk, whose events may go on
    for chunk in events_for_rebuild(owners=owners, anonymous_since=_anonymous_since(), chunk=REBUILD_CHUNK):
        by_owner = _by_owner(chunk)
        if carried is not None and carried not in by_owner:
            _finish([carried], broken=broken, result=result)
            carried = None
        facts = _product_facts(_fact_ids(chunk))
        now_ms = int(time.time() * 1000)
        batch = RedisBatch()
        calls = {}
        for owner, owned in by_owner.items():
            if owner in broken:
                continue
            staging = profile_staging_keys(owner)
            if owner != carried:
                batch.pipe.delete(*staging)  # what a stopped rebuild may have left
            try:
                calls[owner] = _apply_queue(
                    batch, owned=owned, facts=facts, keys=staging, ttl=STAGING_TTL, now_ms=now_ms
                )
            except RECORD_ERRORS:
                broken.add(owner)
        replies = batch.execute(raise_on_error=False)
        broken.update(owner for owner, position in calls.items() if isinstance(replies[position], ResponseError))
        *done, carried = by_owner
        _finish(done, broken=broken, result=result)
        if progress:
            progress(len(chunk))
    if carried is not None:
        _finish([carried], broken=broken, result=result)
    return result


def _finish(owners: list[str], *, broken: set[str], result: RebuildResult) -> None:
    whole = [owner for owner in owners if owner not in broken]
    _swap(whole)
    result.rebuilt += len(whole)
    for owner in owners:
        if owner in broken:
            _rebuild_skipping(owner, result)
