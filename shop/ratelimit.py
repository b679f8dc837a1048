"""Fixed-window limits in Redis, per client address or per subject: the windows, and a budget a form may spend."""

import hashlib
import logging
import math
import time

from django.conf import settings
from django.http import HttpRequest
from redis.exceptions import RedisError

from .client_address import address_bucket
from .keyspace import address_limit_key, redis_client, subject_limit_key

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
    return _spend(address_limit_key(address_bucket(request), scope, number), limit, window_seconds, left, scope)


def subject_budget_spend(*, subject: str, scope: str, limit: int, window_seconds: int) -> int:
    """address_budget_spend for a subject other than the address, counted from every address:
    the reset mails one e-mail address may be sent, whoever asks for them."""
    number, left = window(window_seconds)
    return _spend(subject_limit_key(subject_digest(subject), scope, number), limit, window_seconds, left, scope)


def subject_digest(subject: str) -> str:
    """A digest of subject keyed with SECRET_KEY, so the limiters' Redis keys never hold an e-mail."""
    key = hashlib.blake2b(settings.SECRET_KEY.encode(), digest_size=32).digest()
    return hashlib.blake2b(subject.encode("utf-8", "surrogatepass"), key=key, digest_size=10).hexdigest()


def try_again_message(*, reason: str, seconds: float) -> str:
    """'<reason>; try again in N minutes', rounded up so the promise holds."""
    minutes = max(1, math.ceil(seconds / 60))
    return f"{reason}; try again in {minutes} minute{'s' if minutes != 1 else ''}."


def _spend(key: str, limit: int, window_seconds: int, left: int, scope: str) -> int:
    try:
        pipe = redis_client().pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, window_seconds)
        count = pipe.execute()[0]
    except RedisError:
        logger.warning("limiter unavailable; letting a %s through", scope)
        return 0
    return left if count > limit else 0
