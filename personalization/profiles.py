"""Live visitor profiles in Redis: applied per batch by one Lua call, read in one round trip.

Postgres holds the events; a profile is derived from them and can always be rebuilt.
"""

import json
import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings

from shop.catalog.models import Product
from shop.keyspace import RedisBatch, profile_keys, redis_client

from .recommenders.base import EVENT_WEIGHTS

PROFILE_TOP = 10


def profile_owner(*, visitor_id, user_id: int | None) -> str:
    """Signed-in shoppers have one profile across devices; others one per visitor id."""
    return f"u:{user_id}" if user_id else f"v:{visitor_id}"


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
    """(product id, quantity) pairs an event is about: its product, or its items (purchase)."""
    if event.product_id:
        return [(event.product_id, int(event.properties.get("quantity") or 1))]
    pairs = []
    for item in event.properties.get("items") or []:
        try:
            pairs.append((int(item.get("item_id")), int(item.get("quantity") or 1)))
        except (TypeError, ValueError):
            continue
    return pairs


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


def profiles_apply(events: list, *, batch: RedisBatch | None = None) -> int:
    """Apply stored events to their owners' profiles: one Lua call per owner in the batch.

    Every event counts once under its name; only events that move affinities, recent views,
    the cart or purchases travel one by one (a product page's batch is mostly impressions,
    which only count). Given a RedisBatch, the calls are queued on it for the caller to send
    with its own commands; otherwise they are sent here.
    """
    by_owner: dict[str, list] = defaultdict(list)
    for event in events:
        by_owner[profile_owner(visitor_id=event.visitor_id, user_id=event.user_id)].append(event)
    for owned in by_owner.values():
        owned.sort(key=lambda event: event.occurred_at)
    moving = {owner: [event for event in owned if _moves_profile(event)] for owner, owned in by_owner.items()}
    facts = _product_facts(pid for owned in moving.values() for event in owned for pid, _ in _item_ids(event))
    own = batch is None
    batch = batch if batch is not None else RedisBatch()
    anonymous_ttl = settings.PROFILE_ANONYMOUS_TTL_DAYS * 86400
    now_ms = int(time.time() * 1000)
    for owner, owned in by_owner.items():
        payload = {
            "half_life": _half_life_seconds(),
            "recent_cap": settings.PROFILE_RECENT_CAP,
            "ttl": anonymous_ttl if owner.startswith("v:") else 0,
            "now_ms": now_ms,
            "first": owned[0].occurred_at.timestamp(),
            "last": owned[-1].occurred_at.timestamp(),
            "counts": Counter(event.name for event in owned),
            "events": _payload_events(moving[owner], facts),
        }
        batch.script("profile_apply", keys=profile_keys(owner), args=[json.dumps(payload)])
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


def profiles_rebuild(*, owners: set[str] | None = None, progress: Callable[[int], None] | None = None) -> int:
    """Rebuild profiles from the event record: all of them, or the named owners'."""
    from tracking.selectors import events_for_rebuild

    client = redis_client()
    if owners is None:
        for key in client.scan_iter(match="prof:{*}:*", count=1000):
            client.delete(key)
    else:
        for owner in owners:
            profile_delete(owner=owner)
    rebuilt: set[str] = set()
    for chunk in events_for_rebuild(owners=owners, chunk=REBUILD_CHUNK):
        profiles_apply(chunk)
        rebuilt.update(profile_owner(visitor_id=event.visitor_id, user_id=event.user_id) for event in chunk)
        if progress:
            progress(len(chunk))
    return len(rebuilt)
