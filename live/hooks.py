"""The live channel as a tracking hook (an add_to_cart refreshes the slots on open pages) and as
merchandising's fired hook (a timer's offer appears on open pages at once)."""

import uuid

from shop.keyspace import RedisBatch
from tracking.hooks import StoredBatch

from .pushes import SLOTS, push_queue, pushes_queue

# What changes the shelves enough to push them again while the page is open.
REFRESHING = frozenset({"add_to_cart"})


class PushHook:
    def batch_stored(self, batch: StoredBatch, *, redis: RedisBatch) -> None:
        """One push per batch that stored an add_to_cart, however many it held; queued behind the
        profile update on the same round trip, so the render the push leads to sees it."""
        cause = next((event.name for event in batch.events if event.name in REFRESHING), None)
        if cause is not None:
            push_queue(batch=redis, visitor_id=batch.visitor_id, kind=SLOTS, cause=cause)


def rules_fired(*, fired: list[tuple[uuid.UUID, int, str]]) -> None:
    """Merchandising timers fired, (visitor, rule, subject) each: the visitors' open pages render
    their slots again, content slots included, and show the offer without a reload
    (MERCHANDISING_FIRED_HOOKS). One round trip for the whole round's pushes."""
    batch = RedisBatch()
    pushes_queue(batch=batch, pushes=[(visitor_id, SLOTS, f"rule:{rule_id}") for visitor_id, rule_id, _ in fired])
    batch.execute()
