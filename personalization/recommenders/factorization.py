"""implicit's ALS (Hu, Koren and Volinsky 2008) as a registered peer: the public baseline every report shows."""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from .base import Context, Interactions, Recommender, rank
from .itemknn import history_weights
from .registry import register

# Defaults chosen on the online retail validation split (personalization/evaluation/tuning.py):
# 64 factors, regularisation 1, alpha 1, 30 iterations, NDCG@10 0.0926 (577 hits; test 0.1070, the
# public baseline's 0.105). 32 and 128 factors gave 0.0867 and 0.0838; alpha 5 and 20, 0.0805 and 0.0623.
DEFAULTS: dict[str, Any] = {"factors": 64, "regularization": 1.0, "alpha": 1.0, "iterations": 30, "seed": 0}


@register
class ImplicitALS(Recommender):
    """Weighted matrix factorisation of the implicit feedback, by implicit's CPU ALS.

    Confidence is 1 + alpha x log(1 + weight). A known user is scored with the factors fitted for
    them; a live profile (no trained row) gets its factors solved from its history against the
    fixed item factors, as implicit's recalculate_user does. One thread, so a seed gives one model.
    """

    name = "als"
    defaults = DEFAULTS
    stochastic = True

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.model_ = None

    def _confidence(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        confidence = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
        # implicit reads each stored value as the whole confidence c_ui (it adds (c - 1) * y yT):
        # below 1, an item a person touched would weigh less than one they never did.
        confidence.data = (1.0 + self.params["alpha"] * np.log1p(np.maximum(confidence.data, 0.0))).astype(np.float32)
        return confidence

    def fit(self, data: Interactions) -> Self:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        p = self.params
        self.data = data
        self._tie_rank = None
        # implicit warns, and slows down, when BLAS runs threads of its own beside its own loop.
        with threadpool_limits(limits=1, user_api="blas"):
            model = AlternatingLeastSquares(
                factors=p["factors"],
                regularization=p["regularization"],
                alpha=1.0,
                iterations=p["iterations"],
                random_state=p["seed"],
                num_threads=1,
                calculate_training_loss=False,
            )
            model.fit(self._confidence(data.matrix), show_progress=False)
        self.model_ = model
        return self

    def score(self, context: Context) -> np.ndarray:
        assert self.data is not None and self.model_ is not None, "fit() first"
        model = self.model_
        user = context.user_index
        if user is not None and 0 <= user < self.data.n_users:
            factors = model.user_factors[user]
        else:
            items, weights = history_weights(self.data, context, history="raw", recency_half_life_days=None)
            if items.size == 0:
                return np.zeros(self.data.n_items, dtype=np.float64)
            row = sp.csr_matrix((weights, (np.zeros(len(items)), items)), shape=(1, self.data.n_items))
            factors = np.asarray(model.recalculate_user(0, self._confidence(row))).ravel()
        return np.asarray(model.item_factors @ factors, dtype=np.float64)

    def similar_items(self, item: int, *, n: int) -> list[tuple[int, float]]:
        """Items whose factors point the same way (cosine)."""
        assert self.model_ is not None, "fit() first"
        factors = np.asarray(self.model_.item_factors, dtype=np.float64)
        norms = np.linalg.norm(factors, axis=1)
        sims = np.divide(factors @ factors[item], norms * norms[item], out=np.zeros(len(norms)), where=norms > 0)
        return rank(sims, self.tie_rank(), n=n, exclude={item})
