"""Every Redis key the shop uses is built here, and every Lua script is registered here.

Keys of one profile share a hash tag ({...}) so Redis Cluster keeps them on one shard
and one Lua call may touch them all.
"""

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from django_redis import get_redis_connection
from redis.exceptions import NoScriptError, ResponseError

SCRIPTS_DIR = Path(__file__).resolve().parent / "lua"


def profile_key(owner: str, part: str) -> str:
    """A part of a live profile; owner is 'v:<visitor uuid>' or 'u:<user id>'."""
    return f"prof:{{{owner}}}:{part}"


PROFILE_PARTS = ("recent", "cat", "brand", "cart", "bought", "meta")


def profile_keys(owner: str) -> list[str]:
    return [profile_key(owner, part) for part in PROFILE_PARTS]


def profile_staging_keys(owner: str) -> list[str]:
    """Where a rebuild assembles a profile before swapping it in (shop/lua/profile_swap.lua);
    the same hash tag as the live keys, so one script may rename one onto the other."""
    return [profile_key(owner, f"rebuild:{part}") for part in PROFILE_PARTS]


def models_active_key() -> str:
    """Hash of recommender name -> the ModelVersion id that serves it."""
    return "models:active"


def slots_key() -> str:
    """Hash of slot -> its settings as JSON, so a page reads them in the same round trip."""
    return "slots:config"


def experiments_key() -> str:
    """The running experiments as JSON, read by every page in its one round trip."""
    return "experiments:running"


def catalog_version_key() -> str:
    """A token replaced by every write of what storefront pages show of the catalogue; processes
    keep what they read of it under the token (shop/catalog/snapshot.py)."""
    return "catalog:version"


def utc_day(moment: datetime) -> int:
    """Days since 1970-01-01 in UTC: the day an exposure counts for, as a plain number (an event's
    text property holding a date's seven digits would be taken for a phone number and redacted)."""
    return int(moment.timestamp() // 86_400)


def exposed_key(owner: str, day: int) -> str:
    """Set of the experiments whose exposure of this owner is recorded on one utc_day, so a page
    records each once a day; rebuilt from the record's own dedupe when lost."""
    return f"exp:{{{owner}}}:exposed:{day}"


def sticky_key(owner: str) -> str:
    """Hash of experiment id -> "policy:variant" an account keeps from its first exposures (made
    as an anonymous visitor, whose hash differs), read by every page with the profile."""
    return f"exp:{{{owner}}}:sticky"


def address_limit_key(address: str, scope: str, window: int) -> str:
    """A counter or set of one address in one fixed window; address is the digest of
    shop.client_address.address_bucket. All keys of an address share its hash tag, so one script
    call may touch them on Redis Cluster."""
    return f"rl:{{{address}}}:{scope}:{window}"


def subject_limit_key(subject: str, scope: str, window: int) -> str:
    """A counter of one subject that is not an address (an e-mail a reset mail goes to) in one
    fixed window; subject is a keyed digest (shop.ratelimit.subject_digest), never the text."""
    return f"rl:s:{{{subject}}}:{scope}:{window}"


def collector_limit_keys(*, address: str, visitor: str, minute: int, hour: int) -> list[str]:
    """The keys of shop/lua/collector_limits.lua, in its order. A visitor's events are counted
    under the address (to share its tag): a visitor who moves starts afresh at the new address,
    where that address's own limits hold."""
    return [
        address_limit_key(address, "events", minute),
        address_limit_key(address, f"visitor:{visitor}", minute),
        address_limit_key(address, "seen", hour),
        address_limit_key(address, "seen", hour - 1),
        address_limit_key(address, "new", hour),
    ]


def session_cache_keys(session_keys: list[str]) -> list[str]:
    """The Redis keys Django's cached_db sessions are cached under (cache prefix and version included)."""
    from django.conf import settings
    from django.contrib.sessions.backends.cached_db import KEY_PREFIX
    from django.core.cache import caches

    cache = caches[settings.SESSION_CACHE_ALIAS]
    return [str(cache.make_key(KEY_PREFIX + key)) for key in session_keys]


def redis_client():
    """The shared connection pool behind Django's cache (real Redis, or fakeredis embedded)."""
    return get_redis_connection("default")


@cache
def _script_source(name: str) -> str:
    return (SCRIPTS_DIR / f"{name}.lua").read_text()


@cache
def _script_sha(name: str) -> str:
    return hashlib.sha1(_script_source(name).encode(), usedforsecurity=False).hexdigest()


class RedisBatch:
    """Commands bound for Redis in one round trip: a pipeline (no MULTI) whose Lua scripts go
    as EVALSHA. A script Redis has not cached yet (after a restart or a SCRIPT FLUSH) is sent
    once more with its source; redis-py's own pipelined scripts would instead ask SCRIPT
    EXISTS on every execute, a second round trip.

    The client is looked up when the batch is made, never cached: it changes when settings
    do (a test pointing at another Redis, a reconnect).
    """

    def __init__(self, client=None):
        self.client = client or redis_client()
        self.pipe = self.client.pipeline(transaction=False)
        self._scripts: dict[int, tuple[str, list, list]] = {}
        # Callbacks with the position of the reply each takes (None: none). Not closures over the
        # batch: such a cycle kept each batch, its pipeline and all it held until the collector
        # ran, and every request paid for the collections it brought on.
        self._after: list[tuple[int | None, Callable]] = []
        # What Redis answered, once execute() has been: a read ahead takes its replies from here.
        self.replies: list | None = None

    def after(self, callback: Callable[[], None]) -> None:
        """Call callback once everything queued has been sent and answered: for work that must
        not start before Redis holds what this batch writes (a live push reading it back)."""
        self._after.append((None, callback))

    def then(self, position: int, callback: Callable[[Any], None]) -> None:
        """Call callback with the reply at position, in the order of after()."""
        self._after.append((position, callback))

    def script(self, name: str, *, keys: list, args: list) -> int:
        """Queue a call of the script shop/lua/<name>.lua; returns where its reply will be."""
        position = len(self.pipe)
        self._scripts[position] = (name, keys, args)
        self.pipe.evalsha(_script_sha(name), len(keys), *keys, *args)
        return position

    def execute(self, *, raise_on_error: bool = True) -> list:
        """Send everything queued; the replies in order. Raises the first error any command met,
        or with raise_on_error=False leaves each error in its command's place."""
        replies = self.pipe.execute(raise_on_error=False) if len(self.pipe) else []
        for position, (name, keys, args) in self._scripts.items():
            if isinstance(replies[position], NoScriptError):
                try:
                    replies[position] = self.client.register_script(_script_source(name))(keys=keys, args=args)
                except ResponseError as error:
                    replies[position] = error
        self.replies = replies
        if raise_on_error:
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
        for position, callback in self._after:
            if position is None:
                callback()
            else:
                callback(replies[position])
        return replies


def ingest_stats_key(hour: datetime) -> str:
    """One hour (UTC) of ingest counters: a hash of '<source>:<accepted|duplicates|rejected>' fields."""
    return f"ingest:stats:{hour.astimezone(UTC):%Y%m%d%H}"


# Segments (segments/): per-owner counters, memberships and the due-times of time-based changes.
def segment_counts_key(owner: str) -> str:
    """Hash of one owner's time-bucketed counters: '<counter>|c|<minute>' counts, '<counter>|s|<minute>'
    sums in cents, '<counter>|c|<session>' counts of the current session only; one hash so a batch
    counts into it and reads it back in one script call."""
    return f"seg:{{{owner}}}:counts"


def segment_meta_key(owner: str) -> str:
    """Hash of an owner's first and last event (epoch ms) and the session of the last (shop/lua/segment_count.lua)."""
    return f"seg:{{{owner}}}:meta"


def segment_handover_key(owner: str) -> str:
    """Hash by which a backfill and live batches hand an owner's counters over (shop/lua/segment_count.lua,
    shop/lua/segment_counts_replace.lua): 'open' while the backfill reads, event id -> what a live batch
    counted meanwhile, or event id -> 'c' for what the backfill counted."""
    return f"seg:{{{owner}}}:handover"


def owner_segments_key(owner: str) -> str:
    """Set of the slugs of the segments an owner is in, read with the profile at render."""
    return f"seg:{{{owner}}}:in"


def segment_members_key(slug: str) -> str:
    """Set of the owners in one cluster segment, by which a re-cluster finds who left it (a rule
    segment has none: its size and export come from the record, and pages read the owner's set)."""
    return f"segment:{slug}:members"


def segment_due_key() -> str:
    """Sorted set of owner -> epoch second when a segment of theirs may change with time alone."""
    return "segment:due"


def segment_journal_key() -> str:
    """List of live transitions not yet in the Postgres record, oldest first (segments/record.py)."""
    return "segment:{journal}"


def segment_journal_taken_key() -> str:
    """List of the journal's rows a drainer is applying; emptied after its commit."""
    return "segment:{journal}:taken"


def segment_journal_lock_key() -> str:
    """The lock one drainer of the journal holds at a time."""
    return "segment:{journal}:lock"


# The live channel (live/): what a visitor's open pages are pushed, kept for a reconnecting page.
def live_push_keys(visitor: str) -> list[str]:
    """The keys of shop/lua/live_push.lua: a visitor's push counter and their recent pushes, in
    order (a list of JSON entries, each with its sequence number). One hash tag per visitor."""
    return [f"live:{{v:{visitor}}}:seq", f"live:{{v:{visitor}}}:pushes"]


# Prefix of the Channels Redis layer's own keys (channels_redis builds them under it).
CHANNEL_LAYER_PREFIX = "live:layer"


# Merchandising (merchandising/): the published rules and blocks, and each owner's timers,
# fired rules and showings. An owner's keys share its hash tag with its profile.
def merch_rules_keys() -> list[str]:
    """The active rules and content blocks as JSON and its version (a digest), in the order of
    shop/lua/document_read.lua: a page's round trip brings the document only when it changed."""
    return ["merch:{published}:version", "merch:{published}:document"]


def merch_timers_key() -> str:
    """Sorted set of '<owner>|<rule>|<subject>' -> epoch ms when that absence timer is due."""
    return "merch:timers"


def merch_owner_timers_key(owner: str) -> str:
    """Hash of an owner's pending timers, '<rule>|<subject>' -> JSON {due ms, visitor}: read at
    render, so a due timer shows even while no worker fires it."""
    return f"merch:{{{owner}}}:timers"


def merch_fired_key(owner: str) -> str:
    """Hash of rule id -> JSON {subject, until ms} of the owner's fired event rules."""
    return f"merch:{{{owner}}}:fired"


def merch_shown_key(owner: str, day: int) -> str:
    """Hash of rule id -> showings on one utc_day, for frequency caps."""
    return f"merch:{{{owner}}}:shown:{day}"
