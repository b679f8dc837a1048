"""Fixed-window limits per client address in Redis: the windows, and a budget a form may spend."""

import logging
import time

from django.http import HttpRequest
from redis.exceptions import RedisError

from .client_address import address_bucket
from .keyspace import address_limit_key, redis_client

logger = logging.getLogger(__name__)


def window(seconds: int) -> tuple[int, int]:
    """The fixed window of this length we are in: its number, and the seconds left in it."""
    now = int(time.time())
    return now // seconds, seconds - now % seconds


def address_budget_spend(*, request: HttpRequest, scope: str, limit: int, window_seconds: int) -> int:
    """Spend one of the `limit` tries the client's address has per window on scope.

    0 when the try may go ahead, else the seconds until the window ends. Refused tries count
    too, so a script that keeps trying stays refused. Without Redis every try goes ahead: the
    limit guards against abuse, it is no reason to turn shoppers away.
    """
    number, left = window(window_seconds)
    key = address_limit_key(address_bucket(request), scope, number)
    try:
        pipe = redis_client().pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, window_seconds)
        count = pipe.execute()[0]
    except RedisError:
        logger.warning("address limiter unavailable; letting a %s through", scope)
        return 0
    return left if count > limit else 0
