"""The hybrid blender: collaborative, content, recency and popularity scores mixed by weights."""

from __future__ import annotations

from typing import Any, Self

import numpy as np

from .base import Context, Interactions, Recommender, Taste
from .registry import register

# Which algorithm plays each part. A Hybrid is always this blend: fitted in one piece (for
# offline evaluation and the shared suite), or composed by serving from the served versions
# of these parts with a slot's weights.
PARTS = {"collaborative": "itemknn", "content": "content", "recency": "session", "popularity": "trending"}
DEFAULT_WEIGHTS = {"collaborative": 1.0, "content": 0.5, "recency": 0.5, "popularity": 0.1}


def blend(scores: dict[str, np.ndarray], weights: dict[str, float], n_items: int) -> np.ndarray:
    """Sum of each part's scores scaled to 0..1 and weighted; parts with no opinion add nothing."""
    total = np.zeros(n_items, dtype=np.float64)
    for part, values in scores.items():
        weight = weights.get(part, 0.0)
        top = float(np.max(values, initial=0.0))
        if weight > 0 and top > 0:
            total += weight * np.asarray(values, dtype=np.float64) / top
    return total


@register
class Hybrid(Recommender):
    name = "hybrid"

    def __init__(self, *, weights: dict[str, float] | None = None, part_params: dict | None = None, **params: Any):
        super().__init__(weights={**DEFAULT_WEIGHTS, **(weights or {})}, part_params=part_params or {}, **params)
        self.parts: dict[str, Recommender] = {}

    def fit(self, data: Interactions) -> Self:
        from .registry import algorithm

        self.data = data
        self._tie_rank = None
        self.parts = {
            part: algorithm(name)(**self.params["part_params"].get(part, {})).fit(data)
            for part, name in PARTS.items()
            if self.params["weights"].get(part, 0) > 0
        }
        return self

    @classmethod
    def compose(cls, parts: dict[str, Recommender], *, weights: dict[str, float]) -> Self:
        """The blend of parts fitted apart (serving's current versions), over the first part's items."""
        hybrid = cls(weights=weights)
        hybrid.parts = {part: model for part, model in parts.items() if hybrid.params["weights"].get(part, 0) > 0}
        if not hybrid.parts:
            raise ValueError("a hybrid needs at least one part with a weight above zero")
        hybrid.data = next(iter(hybrid.parts.values())).data
        return hybrid

    def score(self, context: Context) -> np.ndarray:
        assert self.data is not None, "fit() first"
        scores = {part: model.score(context) for part, model in self.parts.items()}
        return blend(scores, self.params["weights"], self.data.n_items)

    def score_taste(self, taste: Taste) -> np.ndarray:
        assert self.data is not None, "fit() first"
        scores = {part: aligned(model.score_taste(taste), model, self) for part, model in self.parts.items()}
        return blend(scores, self.params["weights"], self.data.n_items)


def aligned(scores: np.ndarray, model: Recommender, base: Recommender) -> np.ndarray:
    """One model's scores over the base model's items: parts trained at different times may
    know different products (one added in between), so they meet by item id, not index."""
    ours, theirs = model.data.item_ids, base.data.item_ids
    if len(ours) == len(theirs) and np.array_equal(ours, theirs):
        return scores
    result = np.zeros(len(theirs), dtype=np.float64)
    positions = np.searchsorted(theirs, ours)
    found = positions < len(theirs)
    found[found] = theirs[positions[found]] == ours[found]
    result[positions[found]] = np.asarray(scores)[found]
    return result
