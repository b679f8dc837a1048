"""Who sees which variant: deterministic buckets from a hash of the owner and a salt, no Redis.

A visitor's layer bucket decides which experiment of the layer (if any) they are in; a second
hash with the experiment's own salt picks the variant, so two experiments never share a split.
The global holdout is a fixed salt: the same visitors stay out of everything, across experiments.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from personalization.slots import SlotSettings

BUCKETS = 10_000  # hundredths of a percent: traffic and weights are whole percents
HOLDOUT_SALT = "global-holdout"
# The programme's exposures are recorded as an experiment "holdout" with these two variants.
HOLDOUT, PERSONALIZED = "holdout", "personalized"
NEWEST, POPULARITY = "newest", "popularity"


def bucket(*, owner: str, salt: str) -> int:
    """A uniform bucket in [0, BUCKETS) for this owner under this salt; the same every time."""
    digest = hashlib.blake2b(f"{salt}:{owner}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


@dataclass(frozen=True)
class PublishedVariant:
    key: str
    weight: int
    kind: str
    algorithm: str = ""
    weights: Mapping[str, float] | None = None
    is_control: bool = False

    def slot_settings(self, current: SlotSettings) -> SlotSettings:
        """The slot's settings as this variant shows it."""
        if self.kind == "algorithm" and self.algorithm:
            return replace(current, algorithm=self.algorithm)
        if self.kind == "weights" and self.weights:
            return replace(current, algorithm="hybrid", weights=dict(self.weights))
        if self.kind in ("newest", "popular"):
            return generic_settings(current, algorithm=NEWEST if self.kind == "newest" else POPULARITY)
        return current

    def describe(self) -> str:
        if self.kind == "algorithm":
            return f"algorithm {self.algorithm}"
        if self.kind == "weights":
            return "hybrid weights " + ", ".join(f"{part} {weight:g}" for part, weight in (self.weights or {}).items())
        generic = {"newest": "generic newest products", "popular": "generic popular products"}
        return generic.get(self.kind, "as configured")


def generic_settings(current: SlotSettings, *, algorithm: str) -> SlotSettings:
    """What a visitor sees without personalization: one list for everyone, no exploration."""
    return replace(current, algorithm=algorithm, diversity=0.0, epsilon=0.0)


@dataclass(frozen=True)
class PublishedExperiment:
    """A running experiment as pages read it from Redis."""

    id: int
    name: str
    slot: str
    layer: str
    start: int  # percent of the layer
    end: int
    salt: str
    variants: tuple[PublishedVariant, ...]

    def variant_for(self, owner: str) -> PublishedVariant | None:
        """The owner's variant, or None when their layer bucket is outside this experiment."""
        layer_bucket = bucket(owner=owner, salt=f"layer:{self.layer}")
        if not self.start * 100 <= layer_bucket < self.end * 100:
            return None
        pick = bucket(owner=owner, salt=f"experiment:{self.salt}") * sum(v.weight for v in self.variants) / BUCKETS
        running = 0
        for variant in self.variants:
            running += variant.weight
            if pick < running:
                return variant
        return self.variants[-1]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "slot": self.slot,
            "layer": self.layer,
            "start": self.start,
            "end": self.end,
            "salt": self.salt,
            "variants": [
                {
                    "key": v.key,
                    "weight": v.weight,
                    "kind": v.kind,
                    "algorithm": v.algorithm,
                    "weights": dict(v.weights or {}),
                    "is_control": v.is_control,
                }
                for v in self.variants
            ],
        }


@lru_cache(maxsize=16)
def published_read(raw: bytes) -> tuple[PublishedExperiment, ...]:
    """The running experiments from their published JSON; parsed once per published version."""
    return tuple(
        PublishedExperiment(
            **{key: value for key, value in item.items() if key != "variants"},
            variants=tuple(PublishedVariant(**variant) for variant in item["variants"]),
        )
        for item in json.loads(raw)
    )


@dataclass(frozen=True)
class Assignment:
    """One owner's place in every running experiment: in the holdout, or a variant per slot."""

    holdout: bool
    by_slot: Mapping[str, tuple[PublishedExperiment, PublishedVariant]]


def in_holdout(*, owner: str, percent: float) -> bool:
    return bucket(owner=owner, salt=HOLDOUT_SALT) < percent * BUCKETS / 100


def assignment_for(*, owner: str, experiments: Iterable[PublishedExperiment], holdout_percent: float) -> Assignment:
    """Where an owner stands: a holdout visitor takes part in nothing."""
    if in_holdout(owner=owner, percent=holdout_percent):
        return Assignment(holdout=True, by_slot={})
    by_slot = {}
    for experiment in experiments:
        if experiment.slot in by_slot:
            continue  # two layers testing one slot: the first published (oldest) wins
        variant = experiment.variant_for(owner)
        if variant is not None:
            by_slot[experiment.slot] = (experiment, variant)
    return Assignment(holdout=False, by_slot=by_slot)
