"""The served pipeline under the protocol: a model's ranking re-ranked by serving's own stages, as a shopper sees it.

The same stage classes that fill a page (personalization/serving/stages.py) fill one slot per
evaluated person: ModelCandidates with popularity as the fallback, Diversity, Fallback and
Exploration with a fixed seed. SellableFilter is left out: an offline log has no stock. The
person is a profile whose purchases are their train items (so the page excludes exactly what the
protocol excludes) and whose recent items are those items latest first.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from personalization.profiles import Profile
from personalization.recommenders.base import Interactions, Recommender
from personalization.recommenders.popularity import Popularity
from personalization.serving.stages import Diversity, Exploration, Fallback, ModelCandidates, PageFill, SlotFill
from personalization.slots import SLOTS_BY_NAME, SlotSettings

from .protocol import LIST_LENGTH, user_context

# The shop's main personal shelf: its diversity and exploration are what the served figures price.
SERVED_SLOT = "home_recommended"
STAGES = (ModelCandidates(), Diversity(), Fallback(), Exploration())
# Exploration's draws: one seeded generator per run, so a served figure is reproducible.
EXPLORATION_SEED = 0


@dataclass(frozen=True)
class OfflineState:
    """What the stages read from a page's Redis state, offline: the evaluated model under its own
    name, popularity as the fallback, no profile of a live visitor (each page gets its own)."""

    model_name: str
    model_: Recommender
    popularity: Recommender
    profile: Profile | None = None

    def model(self, name: str, *, settings: SlotSettings) -> Recommender | None:
        if name == self.model_name:
            return self.model_
        return self.popularity if name == "popularity" else None


def coded(data: Interactions, truth: Mapping[Hashable, frozenset]) -> tuple[Interactions, dict[Hashable, frozenset]]:
    """The interactions with item ids 0..n-1 and categories as numbers, as serving's products are,
    and the truth in those ids (items absent from train get ids of their own below zero).

    Index order, and so every tie-break, is the same as the original ids'.
    """
    index = {item: position for position, item in enumerate(data.item_ids.tolist())}
    features = dict(data.item_features)
    categories = features.get("category")
    if categories is not None:
        labels: dict = {}
        # A missing category is its own (unknown) one per item, never one shared by all.
        features["category"] = np.array(
            [
                labels.setdefault(label, len(labels)) if label is not None and label == label else -1 - position
                for position, label in enumerate(categories.tolist())
            ],
            dtype=np.int64,
        )
    recoded = Interactions(
        matrix=data.matrix,
        user_ids=data.user_ids,
        item_ids=np.arange(data.n_items, dtype=np.int64),
        last_seen=data.last_seen,
        item_features=features,
        ratings=data.ratings,
    )
    absent: dict = {}
    recoded_truth = {
        user: frozenset(index[item] if item in index else absent.setdefault(item, -1 - len(absent)) for item in items)
        for user, items in truth.items()
    }
    return recoded, recoded_truth


def served_rankings(
    model: Recommender, data: Interactions, users: Iterable[Hashable], *, n: int = LIST_LENGTH
) -> dict[Hashable, list]:
    """Each user's shelf of n products as the served pipeline fills it (data from coded())."""
    settings = replace(SLOTS_BY_NAME[SERVED_SLOT].defaults, algorithm=model.name, size=n)
    popularity = Popularity().fit(data)
    rng = random.Random(EXPLORATION_SEED)
    lists = {}
    for user in users:
        position = data.user_index(user)
        if position is None:
            continue
        context = user_context(data, position)
        profile = Profile(owner=str(user), recent=list(context.recent), bought=list(context.recent))
        state = OfflineState(model_name=model.name, model_=model, popularity=popularity, profile=profile)
        fill = SlotFill(slot=SLOTS_BY_NAME[SERVED_SLOT], settings=settings)
        page = PageFill(page="evaluation", slots=[fill], page_products=(), state=state, rng=rng)
        for stage in STAGES:
            stage.apply(page)
        lists[user] = [candidate.product_id for candidate in fill.shown]
    return lists
