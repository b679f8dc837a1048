"""The hybrid blender: collaborative, content, recency and popularity scores mixed by weights."""

from __future__ import annotations

from typing import Any, Self

import numpy as np

from .base import Context, Interactions, Recommender
from .registry import register

# Which algorithm plays each part. Serving blends the separately trained, served versions
# of these with the slot's weights (personalization/serving.py); this class is the same
# blend trained in one piece, so it can be evaluated offline and pass the shared suite.
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

    def score(self, context: Context) -> np.ndarray:
        assert self.data is not None, "fit() first"
        scores = {part: model.score(context) for part, model in self.parts.items()}
        return blend(scores, self.params["weights"], self.data.n_items)
