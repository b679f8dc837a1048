"""The ingest seam: what runs once events are stored, declared here and registered by setting.

TRACKING_HOOKS names the hook classes by dotted path, the way Django names its backends. A
hook implements IngestHook (a batch was stored), IdentityHook (a visitor turned out to be a
user), SignOutHook (that user signed out), or several. Ingest quality counters and live
profiles are the first hooks; segment checks, rule timers and live pushes hang here the same
way. The contract every hook keeps:

- it queues its Redis commands on the RedisBatch it is handed; the ingest sends them all in
  one round trip once every hook has run. A hook that must read before it can decide (the
  segments' counters) makes that read itself, and its round trip is a cost every batch pays;
- it never fails the ingest: the events are committed before any hook runs, an exception
  is logged and the next hook still runs;
- whatever it keeps can be rebuilt from the event record.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple, Protocol, runtime_checkable

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


class Hooks(NamedTuple):
    ingest: tuple[IngestHook, ...]
    identity: tuple[IdentityHook, ...]
    signed_out: tuple[SignOutHook, ...]


@lru_cache(maxsize=4)
def _load(paths: tuple[str, ...]) -> Hooks:
    ingest, identity, signed_out = [], [], []
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
        if not isinstance(hook, IngestHook | IdentityHook | SignOutHook):
            raise ImproperlyConfigured(
                f"TRACKING_HOOKS names {path!r}, which has none of batch_stored, visitor_identified, visitor_signed_out"
            )
    return Hooks(ingest=tuple(ingest), identity=tuple(identity), signed_out=tuple(signed_out))


def hooks_loaded() -> Hooks:
    """The hooks of TRACKING_HOOKS, each made once per process, by the protocol they keep."""
    return _load(tuple(settings.TRACKING_HOOKS))


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
