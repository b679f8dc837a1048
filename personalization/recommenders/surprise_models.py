"""Surprise's rating models (KNNBaseline item-based, SVD) under the recommender contract.

They predict star ratings. By default they learn the data's own stars when it has them (a
rating column: explicit_ratings), else stars derived from behaviour (behaviour_ratings), since
few shoppers leave reviews; ratings="reviews" reads the shop's published stars instead, and
any function that returns (user index, item index, rating) triples for an Interactions plugs
in the same way (module-level, so a saved model can be loaded again).
score() is the predicted rating of every item for a known user, computed from the fitted
parameters in numpy (Surprise's predict() one pair at a time would take minutes for a
catalog); cold users get zeros, so the tie-break (popularity) ranks for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .base import Context, Interactions, Recommender, rank
from .registry import register

RATING_SCALE = (1.0, 5.0)
# The weight that maps to the top of the scale is this percentile of all cell weights, so one
# wholesaler's 200 re-orders do not squash everybody else's ratings to the bottom.
RATING_CAP_PERCENTILE = 99.0
# KNNBaseline keeps a dense float64 item x item matrix: 10,000 items are 800 MB. Online retail
# (about 3,700 items) needs 110 MB; a larger catalog belongs to the sparse item-item model.
KNN_MAX_ITEMS = 10_000

# The draw of passed-over items in behaviour_ratings: fixed, so a refit gives the same model.
NEGATIVE_SEED = 0

RatingsSource = Callable[[Interactions], Iterable[tuple[int, int, float]]]


def weight_ratings(weights: np.ndarray, *, cap: float) -> np.ndarray:
    """Stars for what people did: 2 + 3 x min(1, log(1 + w) / log(1 + cap)), so even the
    lightest interaction rates above the 1 of an item passed over."""
    low, high = RATING_SCALE
    floor = low + 1.0
    return floor + (high - floor) * np.minimum(1.0, np.log1p(np.maximum(weights, 0.0)) / np.log1p(cap))


def weight_cap(data: Interactions) -> float:
    """The weight that maps to the top of the scale (RATING_CAP_PERCENTILE of all cells)."""
    weights = data.matrix.data
    return max(float(np.percentile(weights, RATING_CAP_PERCENTILE)), 1e-9) if weights.size else 1.0


def behaviour_ratings(data: Interactions) -> list[tuple[int, int, float]]:
    """Ratings from behaviour: 2..5 for what each person did, 1 for as many items they passed over.

    Interactions rate by summed weight on a log scale (weight_ratings; on online retail, weight
    5 per purchase, one purchase is about 3.3 and a dozen or more 5). Implicit data has no low
    ratings, and on a log where every interaction weighs the same every rating would be one
    constant: a rating model would learn nothing, and KNNBaseline's pearson_baseline divides by
    zero. So each person also rates 1 as many untouched items as they touched (at most all the
    untouched ones), drawn uniformly with a fixed seed: the same data gives the same ratings.
    """
    matrix = sp.csr_matrix(data.matrix)
    coo = matrix.tocoo()
    if coo.nnz == 0:
        return []
    ratings = weight_ratings(coo.data.astype(np.float64), cap=weight_cap(data))
    triples = list(zip(coo.row.tolist(), coo.col.tolist(), ratings.tolist(), strict=True))
    rng = np.random.default_rng(NEGATIVE_SEED)
    low = RATING_SCALE[0]
    for user in range(matrix.shape[0]):
        touched = matrix.indices[matrix.indptr[user] : matrix.indptr[user + 1]]
        untouched = np.setdiff1d(np.arange(matrix.shape[1]), touched, assume_unique=False)
        count = min(len(touched), len(untouched))
        if count:
            triples += [(user, int(item), low) for item in rng.choice(untouched, size=count, replace=False)]
    return triples


def explicit_ratings(data: Interactions) -> list[tuple[int, int, float]]:
    """The stars the data itself carries (a rating column), as they are."""
    if data.ratings is None:
        return []
    coo = sp.csr_matrix(data.ratings).tocoo()
    return list(zip(coo.row.tolist(), coo.col.tolist(), coo.data.astype(np.float64).tolist(), strict=True))


def review_ratings(data: Interactions) -> list[tuple[int, int, float]]:
    """Published product reviews' stars, for the users and products the data knows.

    Users are matched by their training key (tracking/owners.py), items by product id.
    """
    from shop.catalog.selectors import review_ratings as published_review_ratings
    from tracking.owners import owner_key

    triples = []
    for user_id, product_id, rating in published_review_ratings().iterator():
        user, item = data.user_index(owner_key(user_id=user_id, visitor_id=None)), data.item_index(product_id)
        if user is not None and item is not None:
            triples.append((user, item, float(rating)))
    return triples


# Ratings sources by name, so settings (RECOMMENDER_PARAMS) can pick one; a callable works too.
# "auto" reads the data's own stars when it has any, else derives them from behaviour.
RATINGS_SOURCES: dict[str, RatingsSource] = {
    "behaviour": behaviour_ratings,
    "explicit": explicit_ratings,
    "reviews": review_ratings,
}
AUTO = "auto"


class SurpriseModel(Recommender):
    """What both Surprise models share: the trainset from a ratings source, ids back to indices."""

    def __init__(self, *, ratings: str | RatingsSource = AUTO, **params: Any) -> None:
        if isinstance(ratings, str) and ratings not in (AUTO, *RATINGS_SOURCES):
            raise ValueError(
                f"ratings must be one of {', '.join((AUTO, *RATINGS_SOURCES))} or a function, not {ratings!r}"
            )
        super().__init__(ratings=ratings, **params)
        # The source a fit read: "auto" resolved, for the report.
        self.ratings_used_: str | None = None
        self.user_inner_: np.ndarray | None = None  # our user index -> Surprise inner id (-1: unrated)
        self.item_inner_: np.ndarray | None = None

    def _trainset(self, data: Interactions):
        from surprise import Dataset, Reader

        source = self.params["ratings"]
        if source == AUTO:
            source = "explicit" if data.ratings is not None and data.ratings.nnz else "behaviour"
        self.ratings_used_ = source if isinstance(source, str) else getattr(source, "__qualname__", repr(source))
        triples = list((RATINGS_SOURCES[source] if isinstance(source, str) else source)(data))
        frame = pd.DataFrame(triples, columns=["user", "item", "rating"])
        if frame.empty:
            raise ValueError(f"{self.name}: the ratings source gave no ratings")
        frame = frame.astype({"user": np.int64, "item": np.int64, "rating": np.float64})
        frame = frame.drop_duplicates(["user", "item"], keep="last")
        trainset = Dataset.load_from_df(frame, Reader(rating_scale=RATING_SCALE)).build_full_trainset()
        self.user_inner_ = np.full(data.n_users, -1, dtype=np.int64)
        self.item_inner_ = np.full(data.n_items, -1, dtype=np.int64)
        for inner in range(trainset.n_users):
            self.user_inner_[trainset.to_raw_uid(inner)] = inner
        for inner in range(trainset.n_items):
            self.item_inner_[trainset.to_raw_iid(inner)] = inner
        return trainset

    def _by_item(self, values: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """A per-inner-item array re-indexed by our item indices (unrated items get fill)."""
        assert self.item_inner_ is not None
        out = np.full((len(self.item_inner_), *values.shape[1:]), fill, dtype=np.float64)
        rated = self.item_inner_ >= 0
        out[rated] = values[self.item_inner_[rated]]
        return out

    def _known_user(self, context: Context) -> int | None:
        """Surprise's inner id of the context's user, if it was trained on."""
        user = context.user_index
        if user is None or self.user_inner_ is None or not 0 <= user < len(self.user_inner_):
            return None
        inner = int(self.user_inner_[user])
        return inner if inner >= 0 else None


@register
class KNNBaselineItems(SurpriseModel):
    """Surprise KNNBaseline, item-based with pearson_baseline similarity (Koren 2010).

    est(u, i) = b_ui + sum_{j in N_k(i; u)} sim(i, j) (r_uj - b_uj) / sum sim(i, j), N_k the k
    items u rated that are most similar to i, counted when sim > 0 (as Surprise does).
    A person with no trained row (a live profile) is rated from their history, mapped to
    ratings as behaviour_ratings maps weights, with a zero user bias.
    """

    name = "surprise_knnbaseline"

    def __init__(self, *, k: int = 40, min_k: int = 1, shrinkage: int = 100, **params: Any) -> None:
        super().__init__(k=k, min_k=min_k, shrinkage=shrinkage, **params)

    def fit(self, data: Interactions) -> Self:
        from surprise import KNNBaseline

        if data.n_items > KNN_MAX_ITEMS:
            raise ValueError(
                f"{self.name} keeps a dense item x item matrix: {data.n_items:,} items would need "
                f"{data.n_items**2 * 8 / 1e9:.1f} GB (limit {KNN_MAX_ITEMS:,} items); use itemknn for large catalogs"
            )
        self.data = data
        self._tie_rank = None
        trainset = self._trainset(data)
        algo = KNNBaseline(
            k=self.params["k"],
            min_k=self.params["min_k"],
            sim_options={"name": "pearson_baseline", "user_based": False, "shrinkage": self.params["shrinkage"]},
            verbose=False,
        )
        algo.fit(trainset)
        order = self.item_inner_
        rated = order >= 0
        sim = np.zeros((data.n_items, data.n_items), dtype=np.float64)
        inner = order[rated]
        sim[np.ix_(rated, rated)] = algo.sim[np.ix_(inner, inner)]
        self.sim_ = sim
        self.item_bias_ = self._by_item(np.asarray(algo.bi, dtype=np.float64))
        self.user_bias_ = np.asarray(algo.bu, dtype=np.float64)
        self.global_mean_ = float(trainset.global_mean)
        self.user_ratings_ = {
            inner_user: (
                np.array([trainset.to_raw_iid(j) for j, _ in pairs], dtype=np.int64),
                np.array([r for _, r in pairs], dtype=np.float64),
            )
            for inner_user, pairs in trainset.ur.items()
        }
        self.item_rated_ = rated
        self._cap = weight_cap(data)
        return self

    def _history_ratings(self, context: Context) -> tuple[np.ndarray, np.ndarray]:
        merged = dict(context.history)
        for item in context.recent:
            merged.setdefault(item, 1.0)
        items = np.array([i for i in merged if self.item_rated_[i]], dtype=np.int64)
        weights = np.array([merged[i] for i in items.tolist()], dtype=np.float64)
        return items, weight_ratings(weights, cap=self._cap)

    def score(self, context: Context) -> np.ndarray:
        assert self.data is not None, "fit() first"
        n_items = self.data.n_items
        inner = self._known_user(context)
        if inner is not None:
            items, ratings = self.user_ratings_[inner]
            user_bias = self.user_bias_[inner]
        else:
            items, ratings = self._history_ratings(context)
            user_bias = 0.0
        if items.size == 0:
            return np.zeros(n_items, dtype=np.float64)
        baseline = self.global_mean_ + user_bias + self.item_bias_
        deviations = ratings - baseline[items]
        sims = self.sim_[:, items]
        k = self.params["k"]
        if items.size > k:
            # The k most similar of the person's items for each target item.
            keep = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            sims = np.take_along_axis(sims, keep, axis=1)
            deviations = deviations[keep]
        else:
            deviations = np.broadcast_to(deviations, sims.shape)
        positive = sims > 0
        weights = np.where(positive, sims, 0.0)
        total = weights.sum(axis=1)
        enough = positive.sum(axis=1) >= self.params["min_k"]
        adjustment = np.divide((weights * deviations).sum(axis=1), total, out=np.zeros(n_items), where=total > 0)
        scores = baseline + np.where(enough, adjustment, 0.0)
        if inner is None:
            scores = np.where(self.item_rated_, scores, 0.0)
        return scores


@register
class SVDRatings(SurpriseModel):
    """Surprise SVD (Funk's biased matrix factorisation by SGD) on the ratings; seeded, so stochastic."""

    name = "surprise_svd"
    stochastic = True

    def __init__(
        self,
        *,
        seed: int = 0,
        n_factors: int = 100,
        n_epochs: int = 20,
        lr_all: float = 0.005,
        reg_all: float = 0.02,
        **params: Any,
    ) -> None:
        super().__init__(seed=seed, n_factors=n_factors, n_epochs=n_epochs, lr_all=lr_all, reg_all=reg_all, **params)

    def fit(self, data: Interactions) -> Self:
        from surprise import SVD

        self.data = data
        self._tie_rank = None
        trainset = self._trainset(data)
        p = self.params
        algo = SVD(
            n_factors=p["n_factors"],
            n_epochs=p["n_epochs"],
            lr_all=p["lr_all"],
            reg_all=p["reg_all"],
            random_state=p["seed"],
        )
        algo.fit(trainset)
        self.global_mean_ = float(trainset.global_mean)
        self.user_bias_ = np.asarray(algo.bu, dtype=np.float64)
        self.user_factors_ = np.asarray(algo.pu, dtype=np.float64)
        self.item_bias_ = self._by_item(np.asarray(algo.bi, dtype=np.float64))
        self.item_factors_ = self._by_item(np.asarray(algo.qi, dtype=np.float64))
        return self

    def score(self, context: Context) -> np.ndarray:
        assert self.data is not None, "fit() first"
        inner = self._known_user(context)
        if inner is None:
            return np.zeros(self.data.n_items, dtype=np.float64)
        # Unclipped: Surprise clips to 1..5 for display, which would only make ties.
        return (
            self.global_mean_
            + self.user_bias_[inner]
            + self.item_bias_
            + self.item_factors_ @ self.user_factors_[inner]
        )

    def similar_items(self, item: int, *, n: int) -> list[tuple[int, float]]:
        """Items whose factors point the same way (cosine); a cold user's zeros would say nothing."""
        assert self.data is not None, "fit() first"
        factors = self.item_factors_
        norms = np.linalg.norm(factors, axis=1)
        sims = np.divide(factors @ factors[item], norms * norms[item], out=np.zeros(len(norms)), where=norms > 0)
        return rank(sims, self.tie_rank(), n=n, exclude={item})
