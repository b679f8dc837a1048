"""The public face of personalization for the storefront: what a page shows, what a person's profile holds."""

import dataclasses
import uuid

from .profiles import profile_delete, profile_owner, profile_read
from .serving import page_slots


def _owners(*, user_id: int | None, visitor_ids: list[uuid.UUID]) -> list[str]:
    owners = [profile_owner(visitor_id=visitor, user_id=None) for visitor in visitor_ids]
    if user_id is not None:
        owners.append(profile_owner(visitor_id=None, user_id=user_id))
    return owners


def profile_export(*, user_id: int | None, visitor_ids: list[uuid.UUID]) -> list[dict]:
    exported = []
    for owner in _owners(user_id=user_id, visitor_ids=visitor_ids):
        profile = profile_read(owner=owner)
        if not profile.is_empty:
            exported.append(dataclasses.asdict(profile))
    return exported


def profile_forget(*, user_id: int | None, visitor_ids: list[uuid.UUID]) -> None:
    for owner in _owners(user_id=user_id, visitor_ids=visitor_ids):
        profile_delete(owner=owner)


def page_context(request, page: str, *, products: list[int] = ()) -> dict:
    """The personalized blocks of a page, for its template: {"slots": {slot name: SlotBlock}}.

    page is "home", "product" or "cart"; products are what the page is about (the product
    shown, the cart's lines), which both steer and are left out of the recommendations.
    """
    context = getattr(request, "tracking", None)
    user = getattr(request, "user", None)
    slots = page_slots(
        page=page,
        user_id=user.pk if user is not None and user.is_authenticated else None,
        visitor_id=context.visitor_id if context is not None and context.granted else None,
        page_products=list(products),
    )
    return {"slots": slots}
