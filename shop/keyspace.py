"""Every Redis key the shop uses is built here, and every Lua script is registered here.

Keys of one profile share a hash tag ({...}) so Redis Cluster keeps them on one shard
and one Lua call may touch them all.
"""

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from django_redis import get_redis_connection

SCRIPTS_DIR = Path(__file__).resolve().parent / "lua"


def profile_key(owner: str, part: str) -> str:
    """A part of a live profile; owner is 'v:<visitor uuid>' or 'u:<user id>'."""
    return f"prof:{{{owner}}}:{part}"


PROFILE_PARTS = ("recent", "cat", "brand", "cart", "bought", "meta")


def profile_keys(owner: str) -> list[str]:
    return [profile_key(owner, part) for part in PROFILE_PARTS]


def models_active_key() -> str:
    """Hash of recommender name -> the ModelVersion id that serves it."""
    return "models:active"


def slots_key() -> str:
    """Hash of slot -> its settings as JSON, so a page reads them in the same round trip."""
    return "slots:config"


def rate_limit_key(scope: str, ident: str, window: int) -> str:
    return f"rl:{scope}:{ident}:{window}"


def redis_client():
    """The shared connection pool behind Django's cache (real Redis, or fakeredis embedded)."""
    return get_redis_connection("default")


@cache
def _script_source(name: str) -> str:
    return (SCRIPTS_DIR / f"{name}.lua").read_text()


def script(name: str):
    """A Lua script bound to the current Redis client (EVALSHA, with EVAL when Redis lacks it).

    Only the source is cached: a Script object keeps the client it was made with, and the
    client changes when settings do (a test pointing at another Redis, a reconnect).
    """
    return redis_client().register_script(_script_source(name))


def ingest_stats_key(hour: datetime) -> str:
    """One hour (UTC) of ingest counters: a hash of '<source>:<accepted|duplicates|rejected>' fields."""
    return f"ingest:stats:{hour.astimezone(UTC):%Y%m%d%H}"
