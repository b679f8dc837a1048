"""The collector's limits, in Redis: events per visitor and per address, new visitor ids per address."""

import enum
import logging

from django.conf import settings
from redis.exceptions import RedisError

from shop.keyspace import RedisBatch, collector_limit_keys
from shop.ratelimit import window

logger = logging.getLogger(__name__)
MINUTE, HOUR = 60, 3600


class Refusal(enum.IntEnum):
    """What shop/lua/collector_limits.lua answers; the value is its reply."""

    NONE = 0
    NEW_VISITOR = 1
    VISITOR = 2
    ADDRESS = 3


def check(*, visitor: str, address: str, cost: int, batch: RedisBatch | None = None) -> tuple[Refusal, int]:
    """Count a batch of cost events from visitor at address (a digest from address_bucket).

    (Refusal.NONE, 0) lets it in and counts it; otherwise what refused it and the seconds to
    wait, and nothing is counted. A visitor id the address has not brought in this hour or the
    last spends one of its TRACKING_NEW_VISITORS_PER_IP, so minting an id per batch no longer
    dodges the per-visitor limit, and once the budget is spent the address's known visitors
    still get in. One round trip, which takes along what else is queued on batch (the hooks'
    reads ahead). Without Redis the batch goes in.
    """
    minute, minute_left = window(MINUTE)
    hour, hour_left = window(HOUR)
    batch = RedisBatch() if batch is None else batch
    position = batch.script(
        "collector_limits",
        keys=collector_limit_keys(address=address, visitor=visitor, minute=minute, hour=hour),
        args=[
            visitor,
            cost,
            settings.TRACKING_RATE_PER_VISITOR,
            settings.TRACKING_RATE_PER_IP,
            settings.TRACKING_NEW_VISITORS_PER_IP,
            2 * MINUTE,
            2 * HOUR,
        ],
    )
    try:
        # The others' errors are theirs to take: only the limits' own reply decides here.
        reply = batch.execute(raise_on_error=False)[position]
        if isinstance(reply, Exception):
            raise reply
        refusal = Refusal(reply)
    except RedisError:
        logger.warning("rate limiter unavailable; letting the batch through")
        return Refusal.NONE, 0
    if refusal is Refusal.NONE:
        return refusal, 0
    return refusal, hour_left if refusal is Refusal.NEW_VISITOR else minute_left
