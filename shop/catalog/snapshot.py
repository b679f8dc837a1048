"""What every shopper sees alike of the catalogue, read once per catalogue version and kept per process.

A home or product page asked the database the same things for every visitor: the newest
products, which products can be bought, each shelf's cards, the product with its reviews and
its category's others (8 queries on a product page, about 40% of its time). They are kept here,
under the catalogue's version: a token in Redis that every write of products, images, brands,
categories, departments, reviews or stock replaces (the signals below, and catalog_changed()
from the bulk writes that send none). A page reads the token once, in the round trip it makes
anyway (personalization's, or one of its own), so a change committed before a page began shows
on it. The first page of a new version reads the whole catalogue at once (a large one is kept
piecemeal instead), so no page of that version asks the database for a product again. Without
Redis, or outside a request, everything is read from the database as before. Kept copies go
after KEPT_SECONDS whatever the token says: a bound on what a write that could not reach Redis
leaves stale.

What is kept is shared by the threads of a process: callers never change it (a shelf copies a
product before tagging it with its slot).
"""

import logging
import threading
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from redis.exceptions import RedisError

from shop.keyspace import catalog_version_key, redis_client

from .cards import card_bodies_prepare
from .models import Brand, Category, Department, Product, ProductImage, Review

logger = logging.getLogger(__name__)

KEPT_SECONDS = 60.0
# Active products up to which the whole catalogue is read at once when a version is first asked
# for (2,000 products with their images and reviews: four queries, 0.2-0.4 s on a busy 2-core
# machine); beyond it products are kept as pages ask for them, within the bounds below.
CATALOGUE_KEPT = 5000
CARDS_KEPT = CATALOGUE_KEPT + 1000
PAGES_KEPT = 2000
# A category's other products on a product page: the newest first, then by id.
RELATED_ORDER = ("-created_at", "id")

# This request's catalogue version: _UNREAD until read, _NONE when none can be used (Redis away).
# Outside a request (a task, a command, a test calling a selector) it stays None: no kept copies.
_UNREAD, _NONE = object(), object()
_seen: ContextVar = ContextVar("catalog_version", default=None)


@dataclass
class Kept:
    """One catalogue version's copies."""

    version: bytes
    made: float = field(default_factory=time.monotonic)
    loaded: bool = False
    # Whether every active product is held below (else each is read the first time it is asked for).
    complete: bool = False
    # product id -> the product with what its card shows (None: no such product)
    cards: dict = field(default_factory=dict)
    # active products by slug, and the ones that can be bought by category in RELATED_ORDER
    by_slug: dict = field(default_factory=dict)
    by_category: dict = field(default_factory=dict)
    # product id -> its published reviews, newest first
    reviews: dict = field(default_factory=dict)
    # what a catalogue kept piecemeal has read so far, by what was asked
    pages: dict = field(default_factory=dict)
    # ids of the products that can be bought (active, in stock), newest first
    newest: tuple[int, ...] | None = None
    sellable: frozenset[int] = frozenset()

    def hold(self, products: list, reviews: list) -> None:
        """Index the whole catalogue, its active products newest first and their published reviews,
        and have every card not kept yet rendered."""
        for product in products:
            self.cards[product.pk] = product
            self.by_slug[product.slug] = product
        sellable = [product for product in products if product.stock > 0]
        # RELATED_ORDER by two stable sorts: by id, then newest first.
        by_id = sorted(sellable, key=lambda product: product.pk)
        for product in sorted(by_id, key=lambda product: product.created_at, reverse=True):
            self.by_category.setdefault(product.category_id, []).append(product)
        for review in reviews:
            self.reviews.setdefault(review.product_id, []).append(review)
        self.sellable = frozenset(product.pk for product in sellable)
        self.newest = tuple(product.pk for product in sellable)
        self.complete = True
        card_bodies_prepare(products, currency=settings.SHOP_CURRENCY)


_kept: Kept | None = None
_lock = threading.Lock()


def _request_started(**_) -> None:
    _seen.set(_UNREAD)


def _request_finished(**_) -> None:
    _seen.set(None)


request_started.connect(_request_started, dispatch_uid="catalog-snapshot-request-started")
request_finished.connect(_request_finished, dispatch_uid="catalog-snapshot-request-finished")


def version_wanted() -> bool:
    """Whether this request has yet to read the catalogue's version: a caller making a round trip
    anyway queues version_queue() in it and hands the reply to version_take()."""
    return _seen.get() is _UNREAD


def version_queue(pipe) -> None:
    pipe.get(catalog_version_key())


def version_take(reply: bytes | None) -> None:
    """The version this request's round trip brought (None: the token is gone, Redis flushed)."""
    if reply is None:
        try:
            reply = _version_fresh()
        except RedisError:
            logger.warning("catalogue version: Redis did not answer; reading the database")
            _seen.set(_NONE)
            return
    _seen.set(reply)


def _version_fresh() -> bytes:
    client = redis_client()
    client.set(catalog_version_key(), uuid.uuid4().hex, nx=True)
    return client.get(catalog_version_key())


def kept(*, load: Callable[[], tuple[list, list] | None]) -> Kept | None:
    """This version's copies, or None when this page reads the database itself; load() reads
    the whole catalogue for a new version (None: too large, kept piecemeal)."""
    version = _seen.get()
    if version is _UNREAD:
        try:
            version_take(redis_client().get(catalog_version_key()))
        except RedisError:
            logger.warning("catalogue version: Redis did not answer; reading the database")
            _seen.set(_NONE)
        version = _seen.get()
    if version is None or version is _NONE:
        return None
    held = _kept
    if held is None or held.version != version or time.monotonic() - held.made >= KEPT_SECONDS or not held.loaded:
        held = _held_for(version, load)
    return held


def _held_for(version: bytes, load) -> Kept:
    global _kept
    with _lock:  # one thread reads a new version's catalogue; the process's others wait for it
        held = _kept
        if held is None or held.version != version or time.monotonic() - held.made >= KEPT_SECONDS:
            held = Kept(version=version)
        if not held.loaded:
            whole = load()
            if whole is not None:
                held.hold(*whole)
            held.loaded = True
        _kept = held
        return held


def remember(store: dict, key, value, *, limit: int) -> None:
    store[key] = value
    while len(store) > limit:
        try:
            del store[next(iter(store))]
        except (KeyError, RuntimeError, StopIteration):
            break  # another thread trimmed it meanwhile


def catalog_changed(**_) -> None:
    """Something a storefront page shows of the catalogue changed: this process forgets its
    copies, and every process's next page reads the database again. The token is replaced at
    once and again when the write commits: a page that read the database between the two keeps
    what it read under a token that is already gone."""
    global _kept
    with _lock:
        _kept = None
    if _seen.get() is not None:
        _seen.set(_NONE)  # the rest of this request reads what it wrote, not a copy of the version before
    _version_replace()
    transaction.on_commit(_version_replace)


def _version_replace() -> None:
    try:
        redis_client().set(catalog_version_key(), uuid.uuid4().hex)
    except RedisError:
        # Other processes keep their copies until KEPT_SECONDS pass.
        logger.warning("catalogue version: Redis did not answer; copies elsewhere live out their time")


for model in (Product, ProductImage, Brand, Category, Department, Review):
    post_save.connect(catalog_changed, sender=model, dispatch_uid=f"catalog-snapshot-saved-{model.__name__}")
    post_delete.connect(catalog_changed, sender=model, dispatch_uid=f"catalog-snapshot-deleted-{model.__name__}")
