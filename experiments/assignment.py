"""Who sees which variant: deterministic buckets from a hash of the owner and a salt, no Redis.

A visitor's layer bucket decides which experiment of the layer (if any) they are in; a second
hash with the experiment's own salt picks the variant, so two experiments never share a split.
The global holdout is a fixed salt: the same visitors stay out of everything, across experiments.
An experiment limited to segments takes only their members. A bandit splits its share of the
layer in two: a fixed split by the variants' weights, and arms drawn by the published Thompson
shares, drawn afresh each day; every placement carries its propensity, the chance it had.

Logging in changes the owner key (v:<visitor> becomes u:<user>), and with it every hash. So an
owner's first exposures are carried to the account at login (exposures.ExposureHook) and kept
in Redis as "sticky" placements, which win over the hash: the variant a visitor was first shown
is the one the record counts them in, and the one they keep seeing.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, NamedTuple

from personalization.slots import SlotSettings

BUCKETS = 10_000  # hundredths of a percent: traffic and weights are whole percents
HOLDOUT_SALT = "global-holdout"
# The programme's exposures are recorded as an experiment "holdout" with these two variants.
HOLDOUT, PERSONALIZED = "holdout", "personalized"
NEWEST, POPULARITY = "newest", "popularity"
# How a placement was made: by the fixed split of the weights, or by a bandit's shares.
SPLIT, BANDIT = "split", "bandit"
AB = "ab"


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
    segments: tuple[str, ...] = ()  # only members of one of these take part; empty: everyone
    mode: str = AB
    split_percent: int = 100  # a bandit's fixed split, in percent of its traffic
    shares: Mapping[str, float] | None = None  # a bandit's arms' current shares, summing to 1

    def __post_init__(self):
        object.__setattr__(self, "segments", tuple(self.segments))

    def targets(self, segments: frozenset[str]) -> bool:
        return not self.segments or not segments.isdisjoint(self.segments)

    def in_traffic(self, owner: str) -> bool:
        return self.start * 100 <= bucket(owner=owner, salt=f"layer:{self.layer}") < self.end * 100

    def variant_for(self, owner: str) -> PublishedVariant | None:
        """The owner's variant, or None when their layer bucket is outside this experiment."""
        placed = self.place(owner, day=0)
        return placed.variant if placed else None

    def place(self, owner: str, *, day: int) -> "Placement | None":
        """Where the hash puts this owner on this utc_day (None outside the experiment's traffic)."""
        if not self.in_traffic(owner):
            return None
        if self.mode != BANDIT or bucket(owner=owner, salt=f"split:{self.salt}") < self.split_percent * 100:
            return self.split(owner)
        return self.draw(owner, day=day)

    def split(self, owner: str) -> "Placement":
        """The fixed split by weight, the same every day."""
        weights = [v.weight for v in self.variants]
        variant = _pick(self.variants, weights, bucket(owner=owner, salt=f"experiment:{self.salt}"))
        return Placement(self, variant, SPLIT, variant.weight / sum(weights))

    def draw(self, owner: str, *, day: int) -> "Placement":
        """A bandit's arm by its current shares, drawn afresh each day (equal shares before the
        first update): the day's draws are independent of yesterday's arm."""
        shares = [(self.shares or {}).get(v.key, 0.0) for v in self.variants]
        if sum(shares) <= 0:
            shares = [1.0] * len(self.variants)
        variant = _pick(self.variants, shares, bucket(owner=owner, salt=f"bandit:{self.salt}:{day}"))
        return Placement(self, variant, BANDIT, shares[self.variants.index(variant)] / sum(shares))

    def sticky(self, value: str, *, owner: str, day: int) -> "Placement | None":
        """A placement carried from the owner's first exposure ("policy:variant"); a bandit
        placement keeps its policy and draws its arm as any other; None for a variant unknown."""
        policy, _, key = value.partition(":")
        if policy == BANDIT and self.mode == BANDIT:
            return self.draw(owner, day=day)
        variant = next((v for v in self.variants if v.key == key), None)
        if variant is None:
            return None
        return Placement(self, variant, SPLIT, variant.weight / sum(v.weight for v in self.variants))

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "slot": self.slot,
            "layer": self.layer,
            "start": self.start,
            "end": self.end,
            "salt": self.salt,
            "segments": list(self.segments),
            "mode": self.mode,
            "split_percent": self.split_percent,
            "shares": dict(self.shares or {}),
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


def _pick(variants: tuple[PublishedVariant, ...], weights: list[float], at: int) -> PublishedVariant:
    pick, running = at * sum(weights) / BUCKETS, 0.0
    for variant, weight in zip(variants, weights, strict=True):
        running += weight
        if pick < running:
            return variant
    return variants[-1]


class Placement(NamedTuple):
    """An owner's variant in one experiment, how it was chosen, and the chance it had."""

    experiment: PublishedExperiment
    variant: PublishedVariant
    policy: str
    propensity: float

    @property
    def sticky_value(self) -> str:
        """What is kept for the account at login: a bandit's arm is drawn again, its policy stays."""
        return f"{BANDIT}:" if self.policy == BANDIT else f"{SPLIT}:{self.variant.key}"


@dataclass(frozen=True)
class Assignment:
    """One owner's place in every running experiment: in the holdout, or a variant per slot."""

    holdout: bool
    by_slot: Mapping[str, Placement]


def in_holdout(*, owner: str, percent: float) -> bool:
    return bucket(owner=owner, salt=HOLDOUT_SALT) < percent * BUCKETS / 100


def assignment_for(
    *,
    owner: str,
    experiments: Iterable[PublishedExperiment],
    holdout_percent: float,
    segments: frozenset[str] = frozenset(),
    sticky: Mapping[str, str] | None = None,
    day: int = 0,
) -> Assignment:
    """Where an owner stands: a holdout visitor takes part in nothing. Sticky placements (experiment
    id, or HOLDOUT, -> "policy:variant") win over the hash and keep their layer from the others; an
    experiment targeting segments takes only their members."""
    sticky = sticky or {}
    held = sticky.get(HOLDOUT)
    if (held is not None and held.partition(":")[2] == HOLDOUT) or (
        held is None and in_holdout(owner=owner, percent=holdout_percent)
    ):
        return Assignment(holdout=True, by_slot={})
    experiments = [experiment for experiment in experiments if experiment.targets(segments)]
    by_slot: dict[str, Placement] = {}
    for experiment in experiments:
        value = sticky.get(str(experiment.id))
        placed = experiment.sticky(value, owner=owner, day=day) if value is not None else None
        if placed is not None and experiment.slot not in by_slot:
            by_slot[experiment.slot] = placed
    layers = {placed.experiment.layer for placed in by_slot.values()}
    for experiment in experiments:
        if experiment.slot in by_slot or experiment.layer in layers:
            continue  # two layers testing one slot: the first published (oldest) wins
        placed = experiment.place(owner, day=day)
        if placed is not None:
            by_slot[experiment.slot] = placed
    return Assignment(holdout=False, by_slot=by_slot)
