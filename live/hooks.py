"""The live channel as a tracking hook (a cart change refreshes the cart and the slots on the
visitor's open pages; a sign-in or sign-out reopens their sockets) and as merchandising's fired
hook (a timer's offer appears on open pages at once)."""

import uuid

from shop.keyspace import RedisBatch
from tracking.hooks import StoredBatch

from .pushes import CART, IDENTITY, SLOTS, push_announce, push_queue, pushes_queue

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

    # A sign-in or sign-out in one tab leaves the other tabs' sockets with the handshake's stale
    # cookies (the session they name is gone): they close with identity_changed and the tracker
    # opens them again with the browser's cookies as they are now.
    def visitor_identified(self, *, visitor_id: uuid.UUID, user_id: int) -> None:
        push_announce(visitor_ids=[visitor_id], kind=IDENTITY)

    def visitor_signed_out(self, *, visitor_id: uuid.UUID) -> None:
        push_announce(visitor_ids=[visitor_id], kind=IDENTITY)


def rules_fired(*, fired: list[tuple[uuid.UUID, int, str]]) -> None:
    """Merchandising timers fired, (visitor, rule, subject) each: the visitors' open pages render
    their slots again, content slots included, and show the offer without a reload
    (MERCHANDISING_FIRED_HOOKS). One round trip for the whole round's pushes."""
    batch = RedisBatch()
    pushes_queue(batch=batch, pushes=[(visitor_id, SLOTS, f"rule:{rule_id}") for visitor_id, rule_id, _ in fired])
    batch.execute()
