"""One batch from a browser, as the HTTP collector and the live socket both take it: the same
parsing, shape, size and rate limits, and the same ingest call."""

import json
import logging
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import DatabaseError
from django.http.request import validate_host

from shop.keyspace import RedisBatch

from . import ratelimit
from .hooks import hooks_read_ahead
from .registry import Source
from .services import MAX_BATCH, IngestResult, event_ingest

logger = logging.getLogger(__name__)

# Seconds a client waits before sending a batch again when the store could not take it.
STORE_RETRY_AFTER = 2

REFUSALS = {
    ratelimit.Refusal.NEW_VISITOR: (
        "too_many_new_visitors",
        "too many new visitors from this address; visitors already seen are still served",
    ),
    ratelimit.Refusal.VISITOR: ("rate_limited", "too many events from this visitor; slow down"),
    ratelimit.Refusal.ADDRESS: ("rate_limited", "too many events from this address; slow down"),
}


@dataclass
class BatchRefused(Exception):
    """A batch taken as a whole by none of the stores: the HTTP status that says so, a reason
    code, and when a retry may succeed (rate limits, a store away), the seconds to wait."""

    status: int
    reason: str
    detail: str
    retry_after: int | None = None

    def as_json(self) -> dict:
        extra = {"retry_after": self.retry_after} if self.retry_after is not None else {}
        return {"error": self.reason, "detail": self.detail, **extra}


def origin_allowed(origin: str | None) -> bool:
    """An Origin (or Referer) on one of this site's hosts or TRACKING_ALLOWED_ORIGINS."""
    if not origin:
        return False
    host = urlsplit(origin).hostname
    return bool(host) and validate_host(host, [*settings.ALLOWED_HOSTS, *settings.TRACKING_ALLOWED_ORIGINS])


def batch_parse(body: bytes | str) -> dict:
    """The JSON object of a request body or a socket frame, within TRACKING_MAX_BODY_BYTES."""
    size = len(body) if isinstance(body, bytes) else len(body.encode())
    if size > settings.TRACKING_MAX_BODY_BYTES:
        raise BatchRefused(413, "body_too_large", f"at most {settings.TRACKING_MAX_BODY_BYTES} bytes per request")
    try:
        batch = json.loads(body)
    except (ValueError, RecursionError):
        raise BatchRefused(400, "bad_json", "the body is not valid JSON") from None
    if not isinstance(batch, dict):
        raise BatchRefused(400, "bad_batch", 'the body must be an object with an "events" list')
    return batch


def batch_collect(
    *, batch: dict, visitor_id: uuid.UUID, user_id: int | None, session_id: uuid.UUID | None, address: str
) -> IngestResult:
    """Check a parsed batch's events and the visitor's and address's limits, then ingest it.

    Returns once the events are committed; raises BatchRefused when nothing was taken (a bad
    shape, a limit, the store away), so the client knows to fix, wait or resend.
    """
    events = batch.get("events")
    if not isinstance(events, list):
        raise BatchRefused(400, "bad_batch", 'the body must be an object with an "events" list')
    if not events:
        raise BatchRefused(400, "empty_batch", "a batch needs at least one event")
    if len(events) > MAX_BATCH:
        raise BatchRefused(413, "batch_too_long", f"at most {MAX_BATCH} events per batch")
    # The limits' round trip carries the hooks' reads, so a hook that must read before it
    # decides (the segments) makes no round trip of its own.
    early = RedisBatch()
    ahead = hooks_read_ahead(visitor_id=visitor_id, user_id=user_id, redis=early)
    refusal, retry_after = ratelimit.check(visitor=str(visitor_id), address=address, cost=len(events), batch=early)
    if refusal:
        raise BatchRefused(429, *REFUSALS[refusal], retry_after=retry_after)
    try:
        return event_ingest(
            events=events,
            visitor_id=visitor_id,
            user_id=user_id,
            session_id=session_id,
            source=Source.WEB,
            sent_at=batch.get("sent_at"),
            read_ahead=ahead.taken(),
        )
    except DatabaseError:
        logger.exception("collector could not store a batch")
        raise BatchRefused(
            503, "store_unavailable", "events were not stored; send them again", retry_after=STORE_RETRY_AFTER
        ) from None
