"""Pushes to a visitor's open pages: a numbered log per visitor in Redis, and a wake-up on the channel layer.

The channel layer is at-most-once (messages expire, a full channel drops them), so it carries
only "look at your log": a page's socket reads the pushes it has not sent from the log, and a
page that reconnects says the last number it saw and gets what came after, or, when the log no
longer reaches back that far, one fresh render in their place. Nothing here is the record: the
log lives minutes, and a page loaded anew renders from the profile.
"""

import json
import logging
import uuid
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

from shop.keyspace import RedisBatch, live_push_keys, redis_client

logger = logging.getLogger(__name__)

# The kinds of push: refreshed recommendation and content slots; and a cart change, which
# refreshes the page's cart pieces (header count, cart page) as well as its slots.
SLOTS = "slots"
CART = "cart"
# The channel layer's message types (the consumer's methods of the same names, dots as
# underscores): a wake-up; and "who this is changed" (a sign-in or sign-out in another tab).
READY = "push.ready"
IDENTITY = "identity.changed"


def visitor_group(visitor_id: uuid.UUID) -> str:
    """The Channels group of a visitor's open pages (a group name allows only [a-z0-9._-])."""
    return f"live.v.{visitor_id.hex}"


@dataclass(frozen=True)
class Push:
    seq: int
    kind: str
    cause: str


def push_queue(*, batch: RedisBatch, visitor_id: uuid.UUID, kind: str, cause: str) -> None:
    """Queue a push on the ingest's Redis batch; once the batch is sent (after the profile it
    reflects is written, by the hooks before this one), wake the visitor's sockets."""
    pushes_queue(batch=batch, pushes=[(visitor_id, kind, cause)])


def pushes_queue(*, batch: RedisBatch, pushes: list[tuple[uuid.UUID, str, str]]) -> None:
    """Queue pushes (visitor, kind, cause) on one Redis batch, and wake all their visitors'
    sockets in one pass once it is sent: a round of fired timers pushes thousands at once, and
    a wake-up each from synchronous code cost a few milliseconds of event-loop hand-over."""
    for visitor_id, kind, cause in pushes:
        batch.script(
            "live_push",
            keys=live_push_keys(str(visitor_id)),
            args=[json.dumps({"kind": kind, "cause": cause}), settings.LIVE_PUSH_KEEP, settings.LIVE_PUSH_KEEP_SECONDS],
        )
    visitors = [visitor_id for visitor_id, _, _ in pushes]
    batch.after(lambda: push_announce(visitor_ids=visitors))


async def _announce(visitor_ids: list[uuid.UUID], kind: str) -> None:
    layer = get_channel_layer()
    for visitor_id in visitor_ids:
        try:
            await layer.group_send(visitor_group(visitor_id), {"type": kind})
        except Exception:
            logger.warning("live %s not sent", kind, exc_info=True)


def push_announce(*, visitor_ids: list[uuid.UUID], kind: str = READY) -> None:
    """Tell these visitors' open sockets (by default: wake them for their log); never raises: a
    lost wake-up is caught up on the next one or on reconnect."""
    try:
        async_to_sync(_announce)(visitor_ids, kind)
    except Exception:
        logger.warning("live %s not sent", kind, exc_info=True)


def pushes_since(*, visitor_id: uuid.UUID, after: int) -> tuple[int, list[Push], bool]:
    """The visitor's latest sequence number, the pushes numbered above after, and whether the log
    is whole from after on (False: some were dropped or the count started again; resync)."""
    seq_key, log_key = live_push_keys(str(visitor_id))
    pipe = redis_client().pipeline(transaction=False)
    pipe.get(seq_key)
    pipe.lrange(log_key, 0, -1)
    raw_seq, raw_entries = pipe.execute()
    latest = int(raw_seq or 0)
    entries = [json.loads(raw) for raw in raw_entries]
    pushes = [Push(seq=e["seq"], kind=e["kind"], cause=e["cause"]) for e in entries if e["seq"] > after]
    whole = after <= latest and (not pushes or pushes[0].seq == after + 1) and (pushes or after == latest)
    return latest, pushes, whole
