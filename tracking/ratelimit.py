"""Fixed-window rate limits on event volume per visitor and per (truncated) IP, in Redis."""

import logging
import time

from django.conf import settings
from redis.exceptions import RedisError

from shop.keyspace import rate_limit_key, redis_client

logger = logging.getLogger(__name__)
WINDOW_SECONDS = 60


def check(*, visitor: str, ip: str, cost: int) -> int:
    """Count cost events against both limits; seconds to wait when over either, else 0."""
    window = int(time.time()) // WINDOW_SECONDS
    limits = (
        (rate_limit_key("visitor", visitor, window), settings.TRACKING_RATE_PER_VISITOR),
        (rate_limit_key("ip", ip, window), settings.TRACKING_RATE_PER_IP),
    )
    try:
        pipe = redis_client().pipeline(transaction=False)
        for key, _ in limits:
            pipe.incrby(key, cost)
            pipe.expire(key, WINDOW_SECONDS * 2)
        counts = pipe.execute()[::2]
    except RedisError:
        logger.warning("rate limiter unavailable; letting the batch through")
        return 0
    if any(count > limit for count, (_, limit) in zip(counts, limits, strict=True)):
        return WINDOW_SECONDS - int(time.time()) % WINDOW_SECONDS
    return 0
