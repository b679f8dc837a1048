"""The ingest seam: what runs once events are stored, declared here and registered by setting.

TRACKING_HOOKS names the hook classes by dotted path, the way Django names its backends. A
hook implements IngestHook (a batch was stored), IdentityHook (a visitor turned out to be a
user), SignOutHook (that user signed out), ReadAheadHook (a batch is about to be stored), or
several. Ingest quality counters and live
profiles are the first hooks; segment checks, rule timers and live pushes hang here the same
way. The contract every hook keeps:

- it queues its Redis commands on the RedisBatch it is handed; the ingest sends them all in
  one round trip once every hook has run. A hook that must read before it can decide (the
  segments' counters) queues that read on the collector's round trip before the batch is stored
  (its rate limits'), as a ReadAheadHook, and takes the answer in batch_stored; it must not
  trust it blindly, since another request may write in between. Where no read ahead came (an
  event from the server, Redis away), it reads for itself: a round trip that batch pays;
- it never fails the ingest: the events are committed before any hook runs, an exception
  is logged and the next hook still runs;
- whatever it keeps can be rebuilt from the event record.
"""

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple, Protocol, runtime_checkable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from shop.keyspace import RedisBatch

logger = logging.getLogger(__name__)


class TrackedEvent(NamedTuple):
    """A stored event as the hooks see it (a named tuple, like CleanEvent: 25 per batch)."""

    event_id: uuid.UUID
    name: str
    visitor_id: uuid.UUID
    user_id: int | None
    session_id: uuid.UUID | None
    product_id: int | None
    category_id: int | None
    properties: dict
    occurred_at: datetime


@dataclass(frozen=True)
class StoredBatch:
    """One ingest call, committed: the events it stored (duplicates and rejects left out, in
    the order they came) and whom they belong to, with what else the call received."""

    events: tuple[TrackedEvent, ...]
    source: str
    visitor_id: uuid.UUID
    user_id: int | None
    session_id: uuid.UUID | None
    received_at: datetime
    duplicates: int = 0
    rejected: int = 0
    # What each ReadAheadHook read before the batch was stored, by the hook's class; only the
    # collector reads ahead (it makes a round trip before storing), so this may be empty.
    read_ahead: Mapping[type, Any] = field(default_factory=dict)


@runtime_checkable
class IngestHook(Protocol):
    def batch_stored(self, batch: StoredBatch, *, redis: RedisBatch) -> None:
        """Queue what this committed batch changes on redis; called for every ingest call,
        also one that stored nothing (all duplicates or rejected)."""


@runtime_checkable
class IdentityHook(Protocol):
    def visitor_identified(self, *, visitor_id: uuid.UUID, user_id: int) -> None:
        """A visitor's anonymous events now belong to this user (after the link commits)."""


@runtime_checkable
class SignOutHook(Protocol):
    def visitor_signed_out(self, *, visitor_id: uuid.UUID) -> None:
        """The person behind this visitor id signed out: the browser goes on as a new visitor."""


@runtime_checkable
class ReadAheadHook(Protocol):
    def batch_arriving(
        self, *, visitor_id: uuid.UUID, user_id: int | None, redis: RedisBatch
    ) -> Callable[[list], Any] | None:
        """Queue reads on the round trip made before a batch of this visitor's is stored; return
        what takes their answer from that trip's replies (its result reaches batch_stored as
        batch.read_ahead[type(self)]), or None when it queued nothing."""


class Hooks(NamedTuple):
    ingest: tuple[IngestHook, ...]
    identity: tuple[IdentityHook, ...]
    signed_out: tuple[SignOutHook, ...]
    read_ahead: tuple[ReadAheadHook, ...]


@lru_cache(maxsize=4)
def _load(paths: tuple[str, ...]) -> Hooks:
    ingest, identity, signed_out, read_ahead = [], [], [], []
    for path in paths:
        try:
            hook = import_string(path)()
        except ImportError as error:
            raise ImproperlyConfigured(f"TRACKING_HOOKS names {path!r}, which cannot be imported: {error}") from error
        except Exception as error:
            raise ImproperlyConfigured(f"TRACKING_HOOKS names {path!r}, which failed to start: {error!r}") from error
        # Sorted once here: a runtime protocol check costs microseconds, and ingest runs per batch.
        if isinstance(hook, IngestHook):
            ingest.append(hook)
        if isinstance(hook, IdentityHook):
            identity.append(hook)
        if isinstance(hook, SignOutHook):
            signed_out.append(hook)
        if isinstance(hook, ReadAheadHook):
            read_ahead.append(hook)
        if not isinstance(hook, IngestHook | IdentityHook | SignOutHook | ReadAheadHook):
            raise ImproperlyConfigured(
                f"TRACKING_HOOKS names {path!r}, which has none of batch_stored, visitor_identified, "
                "visitor_signed_out, batch_arriving"
            )
    return Hooks(
        ingest=tuple(ingest), identity=tuple(identity), signed_out=tuple(signed_out), read_ahead=tuple(read_ahead)
    )


def hooks_loaded() -> Hooks:
    """The hooks of TRACKING_HOOKS, each made once per process, by the protocol they keep."""
    return _load(tuple(settings.TRACKING_HOOKS))


@dataclass
class ReadAhead:
    """The hooks' reads queued on a round trip made before a batch is stored."""

    redis: RedisBatch
    takers: list[tuple[type, Callable[[list], Any]]]

    def taken(self) -> dict[type, Any]:
        """What each hook read, by its class; nothing when the round trip failed."""
        taken: dict[type, Any] = {}
        if self.redis.replies is None:
            return taken
        for kind, take in self.takers:
            try:
                taken[kind] = take(self.redis.replies)
            except Exception:
                # Without it the hook reads for itself in batch_stored.
                logger.exception("ingest hook %s could not take its read ahead", kind.__qualname__)
        return taken


def hooks_read_ahead(*, visitor_id: uuid.UUID, user_id: int | None, redis: RedisBatch) -> ReadAhead:
    """Queue every ReadAheadHook's reads on redis, a round trip its caller makes before storing."""
    takers = []
    for hook in hooks_loaded().read_ahead:
        try:
            take = hook.batch_arriving(visitor_id=visitor_id, user_id=user_id, redis=redis)
        except Exception:
            logger.exception("ingest hook %s failed to read ahead", type(hook).__qualname__)
            continue
        if take is not None:
            takers.append((type(hook), take))
    return ReadAhead(redis=redis, takers=takers)


def hooks_batch_stored(batch: StoredBatch, *, redis: RedisBatch) -> None:
    for hook in hooks_loaded().ingest:
        try:
            hook.batch_stored(batch, redis=redis)
        except Exception:
            # The events are stored; what the hook keeps is caught up by a rebuild.
            logger.exception("ingest hook %s failed", type(hook).__qualname__)


def hooks_visitor_identified(*, visitor_id: uuid.UUID, user_id: int) -> None:
    for hook in hooks_loaded().identity:
        try:
            hook.visitor_identified(visitor_id=visitor_id, user_id=user_id)
        except Exception:
            logger.exception("identity hook %s failed", type(hook).__qualname__)


def hooks_visitor_signed_out(*, visitor_id: uuid.UUID) -> None:
    for hook in hooks_loaded().signed_out:
        try:
            hook.visitor_signed_out(visitor_id=visitor_id)
        except Exception:
            logger.exception("sign-out hook %s failed", type(hook).__qualname__)
