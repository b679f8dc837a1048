"""The public face of personalization for the storefront: what a page shows, what a person's profile holds."""

import dataclasses
import logging
import uuid
from collections.abc import Iterable

from redis.exceptions import RedisError

from shop.keyspace import profile_keys

from . import serving
from .erasure import erasures_record
from .profiles import profile_owner, profile_read

logger = logging.getLogger(__name__)


def _owners(*, user_id: int | None, visitor_id: uuid.UUID | None) -> list[str]:
    owners = [profile_owner(visitor_id=visitor_id, user_id=None)] if visitor_id is not None else []
    if user_id is not None:
        owners.append(profile_owner(visitor_id=None, user_id=user_id))
    return owners


def profile_export(*, user_id: int | None, visitor_id: uuid.UUID | None) -> list[dict] | None:
    """The live profiles of an account and of a visitor id's anonymous browsing; None when Redis
    cannot be read just now."""
    exported = []
    try:
        for owner in _owners(user_id=user_id, visitor_id=visitor_id):
            profile = profile_read(owner=owner)
            if not profile.is_empty:
                exported.append(dataclasses.asdict(profile))
    except RedisError:
        logger.warning("profile export: Redis did not answer", exc_info=True)
        return None
    return exported


def profile_forget(
    *,
    user_id: int | None,
    visitor_id: uuid.UUID | None,
    past_visitor_ids: Iterable[uuid.UUID] = (),
    redis_keys: Iterable[str] = (),
) -> None:
    """Forget a person outside Postgres: the live profiles of the account and of the visitor id,
    the other Redis keys given (the account's cached sessions), and their rows in every stored
    model version, including rows from before they logged in under past_visitor_ids.

    Call it inside the erase's transaction: what is left to do commits with the erase, Redis is
    tried once it has committed, and a worker and the beat schedule finish the rest, however long
    Redis stays away.
    """
    keys_by_owner = {owner: profile_keys(owner) for owner in _owners(user_id=user_id, visitor_id=visitor_id)}
    if keys_by_owner and redis_keys:
        keys_by_owner[next(reversed(keys_by_owner))] += list(redis_keys)
    for visitor in past_visitor_ids:
        # Their live profile went at login; only model versions trained before then hold them.
        keys_by_owner.setdefault(profile_owner(visitor_id=visitor, user_id=None), [])
    erasures_record(keys_by_owner=keys_by_owner)


def page_context(request, page: str, *, products: list[int] = ()) -> dict:
    """The personalized blocks of a page, for its template: {"slots": {slot name: SlotBlock}},
    {"segments": the slugs of the segments the visitor is in} (read in the same round trip), and
    {"slot_page": what the live channel needs to fill the same slots again while the page is open}.

    page is "home", "product" or "cart"; products are what the page is about (the product
    shown, the cart's lines), which both steer and are left out of the recommendations.
    """
    context = getattr(request, "tracking", None)
    user = getattr(request, "user", None)
    fill = serving.page_fill(
        page=page,
        user_id=user.pk if user is not None and user.is_authenticated else None,
        visitor_id=context.visitor_id if context is not None and context.granted else None,
        page_products=list(products),
    )
    segments = fill.state.segments if fill is not None and fill.state is not None else frozenset()
    return {
        "slots": serving.page_blocks(fill) if fill is not None else {},
        "segments": segments,
        "slot_page": {"page": page, "products": ",".join(str(pk) for pk in products)},
    }


def page_blocks(*, page: str, user_id: int | None, visitor_id: uuid.UUID | None, products: Iterable[int] = ()) -> dict:
    """The filled slots of a page for this user or visitor: page_context's "slots" without a request."""
    return serving.page_slots(page=page, user_id=user_id, visitor_id=visitor_id, page_products=list(products))
