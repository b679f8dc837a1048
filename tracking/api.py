"""Tracking's public face for the storefront: track() records an authoritative server-side
event; events_export, events_erase and visitor_ids_of serve the privacy page; scrub masks
text as the event record would (so the shop can avoid making what would be masked)."""

import logging

from django.db import DatabaseError
from django.http import HttpRequest

from .payloads import raw_event
from .registry import Source
from .services import event_ingest, events_erase, events_export, visitor_ids_of
from .validation import scrub

__all__ = ["events_erase", "events_export", "scrub", "track", "visitor_ids_of"]

logger = logging.getLogger(__name__)


def track(
    request: HttpRequest,
    name: str,
    *,
    product_id: int | None = None,
    category_id: int | None = None,
    props: dict | None = None,
) -> bool:
    """Record an event for this request's visitor, if they consented; True when stored.

    A failure to record is logged, never raised: the cart and the order are the record
    of money, and a shopper's checkout must not fail because tracking did.
    """
    context = getattr(request, "tracking", None)
    if context is None or not context.granted:
        return False
    user = getattr(request, "user", None)
    event = raw_event(name, product_id=product_id, category_id=category_id, props=props)
    try:
        result = event_ingest(
            events=[event],
            visitor_id=context.visitor_id,
            user_id=user.pk if user is not None and user.is_authenticated else None,
            session_id=context.session_id,
            source=Source.SERVER,
        )
    except DatabaseError:
        logger.exception("could not record server event %s", name)
        return False
    if result.rejected:
        logger.error("server event %s rejected: %s", name, result.rejected)
    return result.accepted == 1
