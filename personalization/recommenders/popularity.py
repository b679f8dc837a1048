"""Popularity and trending: the baselines every other recommender must beat, and the cold-start fallback."""

from __future__ import annotations

import math
from typing import Any, Self

import numpy as np

from .base import Context, Interactions, Recommender, rank
from .registry import register

# Trending half-life, chosen on the online retail validation split (765 users): NDCG@10 0.0376
# at 3 days, 0.0385 at 7, 0.0387 at 14, 0.0386 at 30, 0.0372 at 60 (all-time popularity
# 0.0331). Flat from a week to a month; 14 days sits in the middle.
TRENDING_HALF_LIFE_DAYS = 14.0


def item_weight_totals(data: Interactions) -> np.ndarray:
    """Summed training weight per item: with one weight per interaction, the interaction count."""
    return np.asarray(data.matrix.sum(axis=0), dtype=np.float64).ravel()


def decayed_item_totals(data: Interactions, *, half_life_days: float, now: float | None = None) -> np.ndarray:
    """Summed weight per item, each user-item cell halved every half_life_days before `now` (its latest time).

    Without times (last_seen is None) this is plain popularity. `now` defaults to the latest
    interaction, so a model trained on an old log still ranks its own last days first.
    """
    decay = data.decay(half_life_days=half_life_days, now=now)
    if decay is None:
        return item_weight_totals(data)
    decayed = data.matrix.multiply(decay)
    return np.asarray(decayed.sum(axis=0), dtype=np.float64).ravel()


@register
class Popularity(Recommender):
    """All-time popularity, the same list for everyone.

    count="weight" (default) sums training weights per item: with one interaction per
    (invoice, customer, item), weight 5 each, that is how often an item was bought, and it is
    what reproduces the protocol's sanity figures on online retail (NDCG@10 0.0455, 764 hits).
    count="users" counts distinct users instead (NDCG@10 0.0464, 799 hits there): one
    wholesaler re-ordering an item 40 times then counts once.
    """

    name = "popularity"
    COUNTS = ("weight", "users")

    def __init__(self, *, count: str = "weight", **params: Any) -> None:
        if count not in self.COUNTS:
            raise ValueError(f"count must be one of {self.COUNTS}, not {count!r}")
        super().__init__(count=count, **params)
        self.scores_: np.ndarray | None = None

    def fit(self, data: Interactions) -> Self:
        self.data = data
        self._tie_rank = None
        if self.params["count"] == "users":
            self.scores_ = data.popularity().astype(np.float64)
        else:
            self.scores_ = item_weight_totals(data)
        return self

    def score(self, context: Context) -> np.ndarray:
        assert self.scores_ is not None, "fit() first"
        return self.scores_.copy()


@register
class Trending(Recommender):
    """Time-decayed popularity: recent interactions count more, halving every half_life_days.

    trending_in(category) ranks within one category when the items carry
    item_features["category"] (one label per item index).
    """

    name = "trending"

    def __init__(self, *, half_life_days: float = TRENDING_HALF_LIFE_DAYS, **params: Any) -> None:
        if not (half_life_days > 0 and math.isfinite(half_life_days)):
            raise ValueError("half_life_days must be a positive number of days")
        super().__init__(half_life_days=half_life_days, **params)
        self.scores_: np.ndarray | None = None

    def fit(self, data: Interactions) -> Self:
        self.data = data
        self._tie_rank = None
        self.scores_ = decayed_item_totals(data, half_life_days=self.params["half_life_days"])
        return self

    def score(self, context: Context) -> np.ndarray:
        assert self.scores_ is not None, "fit() first"
        return self.scores_.copy()

    def trending_in(self, category: Any, *, n: int, exclude: set[int] | None = None) -> list[tuple[int, float]]:
        """The n most trending items of one category (empty when the category or the feature is unknown)."""
        assert self.data is not None and self.scores_ is not None, "fit() first"
        categories = self.data.item_features.get("category")
        if categories is None:
            return []
        outside = np.asarray(categories, dtype=object) != category
        scores = np.where(outside, -np.inf, self.scores_)
        return rank(scores, self.tie_rank(), n=n, exclude=exclude)
