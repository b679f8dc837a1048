"""Fixed-window limits per client address in Redis."""

import time


def window(seconds: int) -> tuple[int, int]:
    """The fixed window of this length we are in: its number, and the seconds left in it."""
    now = int(time.time())
    return now // seconds, seconds - now % seconds
