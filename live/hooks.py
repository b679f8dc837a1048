"""The live channel as a tracking hook (a cart change refreshes the cart and the slots on the
visitor's open pages) and as merchandising's fired hook (a timer's offer appears on open pages at once)."""

import uuid

from shop.keyspace import RedisBatch
from tracking.hooks import StoredBatch

from .pushes import CART, SLOTS, push_queue, pushes_queue

# What changes a page enough to push it again while it is open: the cart's own events, which
# the server records (shop/orders/events.py; an order empties its cart), so the other tabs'
# header count and cart page follow.
REFRESHING = frozenset({"add_to_cart", "remove_from_cart", "purchase"})


class PushHook:
    def batch_stored(self, batch: StoredBatch, *, redis: RedisBatch) -> None:
        """One push per batch that stored a cart change, however many it held; queued behind the
        profile update on the same round trip, so the render the push leads to sees it."""
        cause = next((event.name for event in batch.events if event.name in REFRESHING), None)
        if cause is not None:
            push_queue(batch=redis, visitor_id=batch.visitor_id, kind=CART, cause=cause)


def rules_fired(*, fired: list[tuple[uuid.UUID, int, str]]) -> None:
    """Merchandising timers fired, (visitor, rule, subject) each: the visitors' open pages render
    their slots again, content slots included, and show the offer without a reload
    (MERCHANDISING_FIRED_HOOKS). One round trip for the whole round's pushes."""
    batch = RedisBatch()
    pushes_queue(batch=batch, pushes=[(visitor_id, SLOTS, f"rule:{rule_id}") for visitor_id, rule_id, _ in fired])
    batch.execute()
