"""The contract every recommender keeps: fit, recommend, similar_items, save and load.

Items and users are addressed by dense indices into an Interactions matrix; the ids they
stand for travel with it (item_ids, user_ids), so a model trained on shop products and
one trained on a public dataset are the same code.
"""

from __future__ import annotations

import pickle
import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

# Behaviour weights when mixing event types (see the offline evaluation protocol).
EVENT_WEIGHTS = {"view_item": 1.0, "select_item": 1.0, "add_to_wishlist": 2.0, "add_to_cart": 3.0, "purchase": 5.0}
SECONDS_PER_DAY = 86400.0


@dataclass
class Interactions:
    """Implicit feedback: a users x items matrix of summed weights, plus what indices mean.

    last_seen holds, per (user, item) cell, the latest interaction time in epoch seconds
    (same sparsity as matrix), for recency-aware models; item_first_seen the first time
    each item was seen at all.
    """

    matrix: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray
    last_seen: sp.csr_matrix | None = None
    item_features: dict[str, np.ndarray] = field(default_factory=dict)
    ratings: sp.csr_matrix | None = None
    # Raw events behind the matrix (several may fold into one cell), for reporting.
    events_used: int = 0

    def __post_init__(self) -> None:
        self.matrix = sp.csr_matrix(self.matrix, dtype=np.float32)
        self._item_index = {item: i for i, item in enumerate(self.item_ids.tolist())}
        self._user_index = {user: u for u, user in enumerate(self.user_ids.tolist())}

    @property
    def n_users(self) -> int:
        return self.matrix.shape[0]

    @property
    def n_items(self) -> int:
        return self.matrix.shape[1]

    def item_index(self, item: Any) -> int | None:
        return self._item_index.get(item)

    def user_index(self, user: Any) -> int | None:
        return self._user_index.get(user)

    def decay(self, *, half_life_days: float, now: float | None = None) -> sp.csr_matrix | None:
        """Per cell, one half for every half-life between its latest time and `now` (by default
        the log's last moment, so a model of an old log still weighs its own last days most);
        None when the interactions carry no times."""
        if self.last_seen is None or self.last_seen.nnz == 0:
            return None
        seen = sp.csr_matrix(self.last_seen)
        now = float(seen.data.max()) if now is None else now
        factors = seen.copy()
        factors.data = np.exp2(-(now - seen.data) / (half_life_days * SECONDS_PER_DAY))
        return factors

    def without_users(self, users: set) -> Interactions:
        """The same interactions with these users' rows taken out (people who erased their data);
        items, their features and their indices stay as they were."""
        keep = np.array([user not in users for user in self.user_ids.tolist()], dtype=bool)
        return Interactions(
            matrix=self.matrix[keep],
            user_ids=self.user_ids[keep],
            item_ids=self.item_ids,
            last_seen=self.last_seen[keep] if self.last_seen is not None else None,
            item_features=self.item_features,
            ratings=self.ratings[keep] if self.ratings is not None else None,
            events_used=self.events_used,
        )

    def popularity(self) -> np.ndarray:
        """Distinct users per item: the tie-breaker of every ranking."""
        return np.asarray((self.matrix > 0).sum(axis=0)).ravel()

    @classmethod
    def from_triples(
        cls,
        users: np.ndarray,
        items: np.ndarray,
        weights: np.ndarray,
        times: np.ndarray | None = None,
        item_universe: np.ndarray | None = None,
    ) -> Interactions:
        """Build from parallel arrays (one row per interaction); duplicates are summed.

        item_universe (sorted, unique) fixes the columns, so items nobody touched yet (a new
        product) still get an index; interactions with items outside it are dropped.
        """
        if item_universe is not None:
            # Each distinct item looked up once: ten million random binary searches into a
            # million-item catalog cost more than sorting the items.
            distinct, inverse = np.unique(items, return_inverse=True)
            found = np.searchsorted(item_universe, distinct)
            inside = (found < len(item_universe)) & (
                item_universe[np.minimum(found, len(item_universe) - 1)] == distinct
            )
            known, positions = inside[inverse], found[inverse]
            users, weights, positions = users[known], weights[known], positions[known]
            times = times[known] if times is not None else None
            item_ids, item_codes = item_universe, positions
        else:
            item_ids, item_codes = np.unique(items, return_inverse=True)
        user_ids, user_codes = np.unique(users, return_inverse=True)
        shape = (len(user_ids), len(item_ids))
        # One sort of each row's cell number does what a COO -> CSR conversion and a three-key
        # lexsort for the latest times did (a third of the build at 10M events): runs of one cell
        # are summed (weights) and maxed (times), and the cells come out in CSR order.
        cells = user_codes.astype(np.int64) * shape[1] + np.asarray(item_codes, dtype=np.int64)
        order = np.argsort(cells, kind="stable")
        cells = cells[order]
        starts = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]]) if len(cells) else np.zeros(0, dtype=np.int64)
        kept = cells[starts]
        # int32 indices, as scipy builds them itself below 2**31 entries.
        index = np.int32 if len(kept) < 2**31 and shape[1] < 2**31 else np.int64
        rows, columns = kept // shape[1], (kept % shape[1]).astype(index)
        indptr = np.zeros(shape[0] + 1, dtype=index)
        np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])

        def cells_matrix(values: np.ndarray) -> sp.csr_matrix:
            return sp.csr_matrix((values, columns, indptr), shape=shape)

        sums = np.add.reduceat(weights.astype(np.float32)[order], starts) if len(starts) else np.zeros(0, np.float32)
        matrix = cells_matrix(sums)
        last_seen = None
        if times is not None:
            latest = np.maximum.reduceat(times.astype(np.float64)[order], starts) if len(starts) else np.zeros(0)
            last_seen = cells_matrix(latest)
        return cls(matrix=matrix, user_ids=user_ids, item_ids=item_ids, last_seen=last_seen)


@dataclass(frozen=True)
class Context:
    """What a recommendation is for: a known user's row, or a live profile's recent items.

    history maps item index to weight (what the person did); recent lists item indices,
    most recent first (the session). Either may be empty (a cold start).
    """

    history: dict[int, float] = field(default_factory=dict)
    recent: tuple[int, ...] = ()
    user_index: int | None = None


@dataclass(frozen=True)
class Taste:
    """A person as serving knows them, by item id rather than index: what they did (history,
    id to weight) and saw last (recent, most recent first). Each model maps it to its own
    indices, so models trained at different times, knowing different items, read one Taste."""

    history: dict[Any, float] = field(default_factory=dict)
    recent: tuple[Any, ...] = ()


class Recommender(ABC):
    """One algorithm. Subclasses set name and implement fit and score."""

    name: ClassVar[str]
    # Whether fit() draws random numbers (then it takes a seed and evaluation runs three).
    stochastic: ClassVar[bool] = False

    # The parameters a family takes, with their defaults: when set, an unknown name is refused
    # (a typo in RECOMMENDER_PARAMS must not train a model that silently ignores it).
    defaults: ClassVar[dict[str, Any] | None] = None

    def __init__(self, **params: Any) -> None:
        if self.defaults is not None:
            unknown = set(params) - set(self.defaults)
            if unknown:
                raise TypeError(f"unknown parameters for {self.name}: {', '.join(sorted(unknown))}")
            params = {**self.defaults, **params}
        self.params = params
        self.data: Interactions | None = None

    @abstractmethod
    def fit(self, data: Interactions) -> Self:
        """Learn from interactions; must leave the model usable by score()."""

    @abstractmethod
    def score(self, context: Context) -> np.ndarray:
        """A score for every item index (higher is better; zero means no opinion)."""

    def context_of(self, taste: Taste) -> Context:
        """The Taste in this model's item indices; items it never saw are left out."""
        assert self.data is not None, "fit() first"
        history: dict[int, float] = {}
        for item, weight in taste.history.items():
            index = self.data.item_index(item)
            if index is not None:
                history[index] = history.get(index, 0.0) + weight
        recent = tuple(index for item in taste.recent if (index := self.data.item_index(item)) is not None)
        return Context(history=history, recent=recent)

    def score_taste(self, taste: Taste) -> np.ndarray:
        """A score for every item index of this model, for a person described by item ids."""
        return self.score(self.context_of(taste))

    def recommend(self, context: Context, *, n: int, exclude: set[int] | None = None) -> list[tuple[int, float]]:
        """Top n item indices by score; ties (zeros included) by popularity, then item id."""
        return rank(self.score(context), self.tie_rank(), n=n, exclude=exclude)

    def similar_items(self, item: int, *, n: int) -> list[tuple[int, float]]:
        """Items like this one; by default, what the model recommends to someone who saw it."""
        return self.recommend(Context(history={item: 1.0}, recent=(item,)), n=n, exclude={item})

    def tie_rank(self) -> np.ndarray:
        """Each item's place when scores tie: most popular first, then lowest index."""
        if getattr(self, "_tie_rank", None) is None:
            assert self.data is not None, "fit() first"
            self._tie_rank = tie_rank_of(self.data.popularity())
        return self._tie_rank

    def save(self) -> bytes:
        """The fitted model as bytes, for a ModelVersion's artifact (compressed fast: a version is
        written once and read by every web process)."""
        return zlib.compress(pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL), level=1)

    @classmethod
    def load(cls, blob: bytes) -> Self:
        model = pickle.loads(zlib.decompress(bytes(blob)))  # noqa: S301 - our own artifacts, written by save()
        if not isinstance(model, cls):
            raise TypeError(f"the artifact holds a {type(model).__name__}, not a {cls.__name__}")
        return model


def tie_rank_of(popularity: np.ndarray) -> np.ndarray:
    order = np.lexsort((np.arange(len(popularity)), -popularity))
    ranks = np.empty(len(popularity), dtype=np.int64)
    ranks[order] = np.arange(len(popularity))
    return ranks


def rank(
    scores: np.ndarray, tie_rank: np.ndarray, *, n: int, exclude: set[int] | None = None
) -> list[tuple[int, float]]:
    """Deterministic top n by (score desc, tie rank asc), in linear time for large catalogs.

    A full sort of 100,000 items costs milliseconds per page; partitioning first keeps
    the sort to the few candidates that can make the list.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if exclude:
        scores = scores.copy()
        scores[list(exclude)] = -np.inf
    valid = np.isfinite(scores)
    available = int(valid.sum())
    n = min(n, available)
    if n <= 0:
        return []
    if available > 4 * n:
        kth = np.partition(scores, len(scores) - n)[len(scores) - n]
        above = np.flatnonzero(scores > kth)
        ties = np.flatnonzero(scores == kth)
        need = n - len(above)
        if len(ties) > need:
            ties = ties[np.argpartition(tie_rank[ties], need - 1)[:need]]
        idx = np.concatenate([above, ties])
    else:
        idx = np.flatnonzero(valid)
    order = np.lexsort((tie_rank[idx], -scores[idx]))[:n]
    chosen = idx[order]
    # tolist() makes the Python ints and floats in one call: int()/float() per pair cost 20 us a list.
    return list(zip(chosen.tolist(), scores[chosen].tolist(), strict=True))
