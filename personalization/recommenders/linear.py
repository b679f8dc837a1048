"""EASE: the closed-form linear item model (Steck 2019), item x item weights from one matrix inverse."""

from __future__ import annotations

from typing import Any, Self

import numpy as np

from .base import Context, Interactions, Recommender
from .itemknn import history_weights, time_decayed, weight_matrix
from .registry import register

# EASE inverts a dense items x items matrix in float64: 12,000 items are 1.15 GB per copy, and
# the gram matrix, its inverse and the scaled weights make about 3.5 GB at the peak; online
# retail's 3,700 items take 0.3 s and 110 MB. A larger catalog belongs to the sparse item-item
# models.
EASE_MAX_ITEMS = 12_000
# Defaults chosen on the online retail validation split (train = the protocol's train period minus
# its last 10% of time; personalization/evaluation/tuning.py): l2 1000 on log weights, NDCG@10
# 0.1030 (620 hits; test 0.1108). Binary weights with l2 100/300/1000 gave 0.1020/0.1016/0.1008,
# within the noise; l2 3000 fell to 0.0910 on binary. Training behaviour halved every 120 days then
# made 0.1063 (655 hits; test 0.1128); 30/60/240 days gave 0.0998/0.1021/0.1035.
DEFAULTS: dict[str, Any] = {"l2": 1000.0, "weighting": "log", "history": "binary", "train_half_life_days": 120.0}


@register
class EASE(Recommender):
    """score = x B, B = I - P / diag(P) with P = (X'X + l2 I)^-1 and a zero diagonal.

    The least-squares item model that predicts each item from all the others but itself, in
    closed form: no sampling, no epochs, the same weights every fit. X is the users x items matrix
    (binary by default); a live profile is scored with its history weighted the same way.
    """

    name = "ease"
    defaults = DEFAULTS

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.weights_: np.ndarray | None = None

    def fit(self, data: Interactions) -> Self:
        if data.n_items > EASE_MAX_ITEMS:
            raise ValueError(
                f"{self.name} inverts a dense item x item matrix: {data.n_items:,} items is more than "
                f"{EASE_MAX_ITEMS:,}; use itemknn or session_knn for large catalogs"
            )
        self.data = data
        self._tie_rank = None
        matrix = weight_matrix(data.matrix, weighting=self.params["weighting"])
        matrix = time_decayed(matrix, data, half_life_days=self.params["train_half_life_days"])
        gram = (matrix.T @ matrix).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += self.params["l2"]
        precision = np.linalg.inv(gram)
        weights = -precision / np.diag(precision)
        weights[np.diag_indices_from(weights)] = 0.0
        self.weights_ = weights.astype(np.float32)
        return self

    def score(self, context: Context) -> np.ndarray:
        assert self.data is not None and self.weights_ is not None, "fit() first"
        items, weights = history_weights(
            self.data, context, history=self.params["history"], recency_half_life_days=None
        )
        if items.size == 0:
            return np.zeros(self.data.n_items, dtype=np.float64)
        return np.asarray(weights @ self.weights_[items], dtype=np.float64)
