"""What a page's slots are filled from: the profile, serving model versions and slot settings,
read in one pipelined Redis round trip, and the model snapshots held per process."""

import json
import logging
from dataclasses import dataclass, field
from functools import lru_cache

from django.utils import timezone

from shop.catalog.snapshot import version_queue, version_take, version_wanted
from shop.keyspace import (
    RedisBatch,
    experiments_key,
    exposed_key,
    merch_fired_key,
    merch_owner_timers_key,
    merch_rules_keys,
    merch_shown_key,
    models_active_key,
    owner_segments_key,
    redis_client,
    slots_key,
    sticky_key,
    utc_day,
)

from ..models import SlotConfig
from ..profiles import Profile, profile_from_replies, profile_queue
from ..recommenders.base import Recommender
from ..recommenders.hybrid import PARTS, Hybrid
from ..slots import SLOTS, SlotSettings
from ..training import model_load, models_publish, version_id

logger = logging.getLogger(__name__)

# name -> (version, document): published documents as this process last read them.
_documents: dict[str, tuple[bytes, bytes | None]] = {}


def _document(name: str, reply) -> bytes | None:
    """The document a document_read reply leaves current: the held copy when it answered false."""
    if not reply:
        return _documents[name][1] if name in _documents else None
    version, document = reply
    if version and document:
        _documents[name] = (version, document)
    else:
        _documents.pop(name, None)
    return document or None


# name -> (version token, model): read-only snapshots, replaced whole when the token changes
# (another version serves, or the same one was refitted without someone who erased their data).
_snapshots: dict[str, tuple[str, Recommender]] = {}


@dataclass(frozen=True)
class ServingState:
    """Everything the stages read besides the page itself."""

    profile: Profile | None
    versions: dict[str, str]  # name -> version token
    settings: dict[str, SlotSettings]
    # The slugs of the segments the visitor is in (segments/), for stages, rules and experiments.
    segments: frozenset[str] = frozenset()
    # Running experiments as published (JSON, None when never published), the ones whose
    # exposure of this owner is recorded today, and the placements an account kept from its first
    # exposures (experiment -> placement): read here, interpreted by the experiments stages.
    experiments: bytes | None = None
    exposed: frozenset[str] = frozenset()
    sticky: dict[str, str] = field(default_factory=dict)
    # Merchandising: the published rules and blocks (JSON, None when never published), and this
    # owner's fired event rules, pending timers and showings today as Redis holds them (hashes),
    # interpreted by the merchandising stages.
    rules: bytes | None = None
    fired: dict = field(default_factory=dict)
    timers: dict = field(default_factory=dict)
    shown: dict = field(default_factory=dict)

    def model(self, name: str, *, settings: SlotSettings) -> Recommender | None:
        """The serving model of an algorithm; "hybrid" is composed of the served parts with the
        slot's weights. None when nothing is trained yet."""
        if name != "hybrid":
            return _snapshot(name, self.versions)
        parts = {part: model for part, algorithm in PARTS.items() if (model := _snapshot(algorithm, self.versions))}
        try:
            return Hybrid.compose(parts, weights=dict(settings.weights))
        except ValueError:
            return None  # no weighted part is trained yet


def _snapshot(name: str, versions: dict[str, str]) -> Recommender | None:
    version = versions.get(name)
    if version is None:
        return None
    held = _snapshots.get(name)
    if held is not None and held[0] == version:
        return held[1]
    try:
        model = model_load(version_id=version_id(version))
    except Exception:
        logger.exception("could not load %s v%s; keeping what serves", name, version)
        return held[1] if held else None
    _snapshots[name] = (version, model)
    return model


@lru_cache(maxsize=256)
def _slot_settings(raw: bytes) -> SlotSettings:
    """A slot's published settings, parsed once per process: the same few documents come back
    on every page, and parsing seven of them cost 0.1 ms a page. SlotSettings is frozen and
    nothing changes its weights in place, so pages share one."""
    return SlotSettings.from_json(json.loads(raw))


def slot_configs_ensure() -> None:
    """Create the settings of any slot that has none, from the slot table's defaults (a
    merchandiser switches a slot off with is_active rather than deleting it, which brings it back)."""
    existing = set(SlotConfig.objects.values_list("slot", flat=True))
    SlotConfig.objects.bulk_create(
        [
            SlotConfig(
                slot=slot.name,
                title=slot.defaults.title,
                algorithm=slot.defaults.algorithm,
                size=slot.defaults.size,
                diversity=slot.defaults.diversity,
                epsilon=slot.defaults.epsilon,
            )
            for slot in SLOTS
            if slot.name not in existing
        ],
        ignore_conflicts=True,
    )


def slots_publish() -> dict[str, SlotSettings]:
    """Copy slot settings to Redis, where pages read them with the profile."""
    slot_configs_ensure()
    settings = {config.slot: config.as_settings() for config in SlotConfig.objects.all()}
    pipe = redis_client().pipeline()
    pipe.delete(slots_key())
    if settings:
        pipe.hset(slots_key(), mapping={slot: json.dumps(value.as_json()) for slot, value in settings.items()})
    pipe.execute()
    return settings


def state_read(owner: str | None) -> ServingState:
    """Profile, serving versions, slot settings, segments, experiments, merchandising and the
    catalogue's version: one pipelined round trip."""
    today = utc_day(timezone.now())
    batch = RedisBatch()
    pipe = batch.pipe
    if owner:
        profile_queue(pipe, owner=owner)
    pipe.hgetall(models_active_key())
    pipe.hgetall(slots_key())
    if owner:
        pipe.smembers(owner_segments_key(owner))
    # experiments: the running ones, and which of them this owner's exposure is recorded for today
    pipe.get(experiments_key())
    if owner:
        pipe.smembers(exposed_key(owner, today))
        pipe.hgetall(sticky_key(owner))
    batch.script("document_read", keys=merch_rules_keys(), args=[_documents.get("rules", (b"", None))[0]])
    if owner:
        pipe.hgetall(merch_fired_key(owner))
        pipe.hgetall(merch_owner_timers_key(owner))
        pipe.hgetall(merch_shown_key(owner, today))
    # The catalogue's version rides along when the page has not read it yet (the kept products).
    catalog = version_wanted()
    if catalog:
        version_queue(pipe)
    replies = batch.execute()
    if catalog:
        version_take(replies.pop())
    shown, timers, fired = (replies.pop(), replies.pop(), replies.pop()) if owner else ({}, {}, {})
    rules = _document("rules", replies.pop())
    sticky = replies.pop() if owner else {}
    exposed = replies.pop() if owner else set()
    experiments = replies.pop()
    segments = frozenset(slug.decode() for slug in replies.pop()) if owner else frozenset()
    profile = profile_from_replies(owner=owner, replies=replies[:-2]) if owner else None
    versions = {key.decode(): value.decode() for key, value in replies[-2].items()}
    settings = {key.decode(): _slot_settings(value) for key, value in replies[-1].items()}
    if not settings:
        # Redis was flushed or never told: the database knows; republish for the next page.
        settings, versions = slots_publish(), models_publish()
    return ServingState(
        profile=profile,
        versions=versions,
        settings=settings,
        segments=segments,
        experiments=experiments,
        exposed=frozenset(member.decode() for member in exposed),
        sticky={key.decode(): value.decode() for key, value in sticky.items()},
        rules=rules,
        fired=fired,
        timers=timers,
        shown=shown,
    )
