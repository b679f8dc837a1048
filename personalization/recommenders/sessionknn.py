"""Session-based kNN (V-SKNN with STAN's recency weights): past sessions that share the current
session's items, the latest items counting most, vote with the rest of their items."""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from .base import SECONDS_PER_DAY, Context, Interactions, Recommender
from .registry import register

# Defaults chosen on the REES46 sessions' validation split (the tenth of train sessions that start
# last; tuning.py): k 100, position half-life 2 steps, NDCG@10 0.0868, but on 36 hits, so every
# setting tried (k 50-500, half-lives 1-20, sample 500-5000, cosine, session recency) is within the
# noise there. On online retail's long customer histories it reaches 0.07, where item-item is at 0.12.
DEFAULTS: dict[str, Any] = {
    "k": 100,
    "sample": 1000,
    "position_half_life": 2.0,
    "recency_half_life_days": None,
    "similarity": "dot",
}
SIMILARITIES = ("dot", "cosine")


@register
class SessionKNN(Recommender):
    """score(j) = sum over the k nearest past sessions s of sim(s) x [s has j].

    The current session is context.recent (most recent first; a known user's history when it has
    no order). Its item at step p back from the latest weighs 2^(-p / position_half_life) (V-SKNN's
    position weight); a past session's similarity is the sum of those weights over the items it
    shares (divided by sqrt of its length with similarity="cosine"), times 2^(-age / half-life) for
    its age before the current session's latest moment when recency_half_life_days is set (STAN's
    session recency). Only the `sample` most recent sessions sharing an item are compared, as
    V-SKNN does, so one request stays fast on millions of sessions. Fitting only indexes the
    sessions: items -> sessions and sessions -> items, and each session's latest time.
    """

    name = "session_knn"
    defaults = DEFAULTS

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if self.params["similarity"] not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {SIMILARITIES}, not {self.params['similarity']!r}")
        self.session_items_: sp.csr_matrix | None = None
        self.item_sessions_: sp.csr_matrix | None = None
        self.session_time_: np.ndarray | None = None
        self.session_length_: np.ndarray | None = None

    def fit(self, data: Interactions) -> Self:
        self.data = data
        self._tie_rank = None
        sessions = sp.csr_matrix(data.matrix, dtype=np.float32, copy=True)
        sessions.eliminate_zeros()
        sessions.data[:] = 1.0
        self.session_items_ = sessions
        self.session_length_ = np.diff(sessions.indptr).astype(np.float32)
        if data.last_seen is not None and data.last_seen.nnz:
            self.session_time_ = np.asarray(sp.csr_matrix(data.last_seen).max(axis=1).todense()).ravel()
        else:
            self.session_time_ = np.zeros(data.n_users, dtype=np.float64)
        self.item_sessions_ = self._latest_sessions(sessions)
        return self

    def _latest_sessions(self, sessions: sp.csr_matrix) -> sp.csr_matrix:
        """items x sessions, each item's row cut to its sample + 1 most recent sessions.

        A session among the `sample` most recent of all that share the current items is, for every
        item it shares, among that item's `sample` most recent (+ 1, for the person's own session,
        which is left out): the cut changes no recommendation. It bounds a request by its length
        instead of the popularity of its items (the top item of the 10M-event synthetic log is in
        490,000 sessions; a request took 153 ms before the cut, 37 ms after, at load 3).
        """
        item_sessions = sessions.T.tocsr()
        counts = np.diff(item_sessions.indptr)
        rows = np.repeat(np.arange(item_sessions.shape[0], dtype=np.int64), counts)
        sessions_of = item_sessions.indices
        # Per item: latest first, ties to the lower session index, as score() samples them.
        order = np.lexsort((sessions_of, -self.session_time_[sessions_of], rows))
        starts = np.repeat(item_sessions.indptr[:-1], counts)
        kept = order[np.arange(len(order)) - starts < self.params["sample"] + 1]
        return sp.csr_matrix(
            (
                item_sessions.data[kept],
                sessions_of[kept],
                np.r_[0, np.cumsum(np.minimum(counts, self.params["sample"] + 1))],
            ),
            shape=item_sessions.shape,
        )

    def _current(self, context: Context) -> tuple[np.ndarray, np.ndarray]:
        """The current session's items (latest first) and their position weights."""
        n_items = self.data.n_items
        # Recent first, then the rest of the history; each item once, where it first appears.
        ordered = dict.fromkeys(item for item in (*context.recent, *context.history) if 0 <= item < n_items)
        items = np.array(list(ordered), dtype=np.int64)
        weights = np.exp2(-np.arange(len(items), dtype=np.float64) / self.params["position_half_life"])
        return items, weights

    def score(self, context: Context) -> np.ndarray:
        assert self.data is not None and self.item_sessions_ is not None, "fit() first"
        n_items = self.data.n_items
        items, weights = self._current(context)
        if items.size == 0:
            return np.zeros(n_items, dtype=np.float64)
        shared = sp.csr_matrix(weights[np.newaxis, :]) @ self.item_sessions_[items]
        candidates, sims = shared.indices, shared.data.astype(np.float64)
        own = context.user_index
        if own is not None:
            keep = candidates != own
            candidates, sims = candidates[keep], sims[keep]
        if candidates.size == 0:
            return np.zeros(n_items, dtype=np.float64)
        times = self.session_time_[candidates]
        p = self.params
        if candidates.size > p["sample"]:
            # The most recent sessions that share an item; ties to the lower session index.
            recent = np.lexsort((candidates, -times))[: p["sample"]]
            candidates, sims, times = candidates[recent], sims[recent], times[recent]
        if p["similarity"] == "cosine":
            sims = sims / np.sqrt(self.session_length_[candidates] * len(items))
        if p["recency_half_life_days"]:
            now = self._now(context)
            sims = sims * np.exp2(-np.maximum(now - times, 0.0) / (p["recency_half_life_days"] * SECONDS_PER_DAY))
        if candidates.size > p["k"]:
            nearest = np.lexsort((candidates, -sims))[: p["k"]]
            candidates, sims = candidates[nearest], sims[nearest]
        return np.asarray(self.session_items_[candidates].T @ sims, dtype=np.float64).ravel()

    def _now(self, context: Context) -> float:
        """The current session's latest moment: a known user's own, else the end of the training log."""
        own = context.user_index
        if own is not None and 0 <= own < len(self.session_time_):
            return float(self.session_time_[own])
        return float(self.session_time_.max(initial=0.0))
