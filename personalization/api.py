"""The public face of personalization for the storefront: what a page shows, what a person's profile holds."""

import dataclasses
import logging
import uuid
from collections.abc import Iterable

from redis.exceptions import RedisError

from shop.keyspace import profile_keys
from tracking.devices import device_class

from . import serving
from .erasure import erasures_record
from .profiles import profile_owner, profile_read
from .serving import Preview

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


# The session key under which staff preview the shop as someone else: a Preview's as_json().
PREVIEW = "preview"


def page_context(
    request, page: str, *, products: list[int] = (), category: int | None = None, term: str | None = None
) -> dict:
    """The personalized blocks of a page, for its template (page_state's keys), with
    {"slot_page": what the live channel needs to fill the same slots again while the page is open}.

    page is "home", "category", "product", "search" or "cart"; products are what the page is
    about (the product shown, the cart's lines), which both steer and are left out of the
    recommendations; category and term are the listing's category and the search's words.
    """
    context = getattr(request, "tracking", None)
    user = getattr(request, "user", None)
    staff = user is not None and user.is_staff
    preview = Preview.from_json(request.session.get(PREVIEW)) if staff and hasattr(request, "session") else None
    return {
        **page_state(
            page=page,
            user_id=user.pk if user is not None and user.is_authenticated else None,
            visitor_id=context.visitor_id if context is not None and context.granted else None,
            products=products,
            category=category,
            term=term,
            device=device_class(request.META.get("HTTP_USER_AGENT", "")),
            preview=preview,
        ),
        "previewing": preview,
        "slot_page": {"page": page, "products": ",".join(str(pk) for pk in products)},
    }


def page_state(
    *,
    page: str,
    user_id: int | None,
    visitor_id: uuid.UUID | None,
    products: Iterable[int] = (),
    category: int | None = None,
    term: str | None = None,
    device: str = "desktop",
    preview: Preview | None = None,
) -> dict:
    """What a page shows for this user or visitor: {"slots": {slot name: SlotBlock}},
    {"segments": the slugs of the segments the visitor is in} (read in the same round trip),
    and {"page_shared": what the stages worked out for the page's other blocks (merchandising's
    content slots), read by those apps' template tags}."""
    fill = serving.page_fill(
        page=page,
        user_id=user_id,
        visitor_id=visitor_id,
        page_products=list(products),
        category_id=category,
        search_term=term,
        device=device,
        preview=preview,
    )
    return {
        "slots": serving.page_blocks(fill) if fill is not None else {},
        "segments": fill.state.segments if fill is not None and fill.state is not None else frozenset(),
        "page_shared": fill.shared if fill is not None else {},
    }
