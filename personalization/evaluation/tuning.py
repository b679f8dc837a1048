"""Every configuration tried when choosing the defaults, evaluated on the validation split, then on the test.

Choices are made on the validation figures only (the train period's last 10% of time as
truth); the test figures are printed beside them so a reader can see how the choice held.
Run with `manage.py evaluate_recommenders --dataset online_retail --tune`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd

from personalization.recommenders.base import Context, Interactions, Recommender
from personalization.recommenders.registry import algorithm

from .protocol import Metrics, algorithm_evaluate, interactions_from, prefix_rankings
from .runner import Candidate, split_for

# The item-item settings the search started from (cosine, K 50, shrinkage 10, no weighting,
# no time decay); every item-item row below states what it changes from these.
CLASSIC = {
    "k": 50,
    "similarity": "cosine",
    "shrink": 10.0,
    "alpha": 0.5,
    "beta": 0.0,
    "weighting": "binary",
    "normalize": "none",
    "history": "binary",
    "recency_half_life_days": None,
    "train_half_life_days": None,
}
RP3 = {**CLASSIC, "similarity": "rp3beta", "shrink": 0.0}
RP3_BEST = {**RP3, "k": 15, "alpha": 0.6, "beta": 0.5, "train_half_life_days": 20.0, "history": "log"}
COSINE_BEST = {**CLASSIC, "k": 20, "shrink": 0.0, "weighting": "bm25", "history": "log", "train_half_life_days": 120.0}
USER_BEST = {"k": 50, "weighting": "tfidf"}
# EASE as its search ran, before time decay was tried (the blends with RP3beta too).
EASE_PLAIN = {"train_half_life_days": None}
# The RP3beta + EASE blend the ensemble grew from (its first two parts as the ensemble has them).
RP3_EASE = (("itemknn", {"history": "binary"}, 1.0), ("ease", {"history": "log", "train_half_life_days": None}, 0.5))


class Blend(Recommender):
    """Several fitted algorithms, each one's scores scaled to 0..1 per request, added with weights."""

    name = "blend"

    def __init__(self, *, parts: tuple[tuple[str, dict, float], ...], **params: Any) -> None:
        super().__init__(parts=parts, **params)
        self.models: list[tuple[Recommender, float]] = []

    def fit(self, data: Interactions) -> Self:
        self.data = data
        self._tie_rank = None
        self.models = [(algorithm(name)(**params).fit(data), weight) for name, params, weight in self.params["parts"]]
        return self

    def score(self, context: Context) -> np.ndarray:
        assert self.data is not None, "fit() first"
        total = np.zeros(self.data.n_items, dtype=np.float64)
        for model, weight in self.models:
            scores = model.score(context)
            top = float(np.max(scores, initial=0.0))
            if top > 0:
                total += weight * scores / top
        return total


def _label(name: str, params: dict[str, Any], base: dict[str, Any] | None = None) -> str:
    changed = {key: value for key, value in params.items() if base is None or base.get(key) != value}
    return name + (" " + " ".join(f"{key}={value}" for key, value in changed.items()) if changed else "")


def _sweep(name: str, base: dict[str, Any], **axes: Iterable) -> list[Candidate]:
    keys = list(axes)
    found = []
    for values in product(*axes.values()):
        params = {**base, **dict(zip(keys, values, strict=True))}
        # Item-item rows are labelled by what differs from CLASSIC, whatever the sweep's base.
        label = _label(name, params, CLASSIC if name == "itemknn" else None)
        found.append(Candidate(label=label, cls=algorithm(name), params=params))
    return found


def _blend(label: str, *parts: tuple[str, dict, float]) -> Candidate:
    return Candidate(label=f"blend {label}", cls=Blend, params={"parts": parts})


def tuning_candidates(names: Iterable[str] | None = None) -> list[Candidate]:
    """The grid, in the order it was explored; only the named algorithms' rows when names are given."""
    names = set(names) if names else None
    item = "itemknn"
    grid: list[Candidate] = [
        *_sweep("popularity", {}, count=["weight", "users"]),
        *_sweep("trending", {}, half_life_days=[3.0, 7.0, 14.0, 30.0, 60.0]),
        # Cosine: weighting, K, shrinkage.
        *_sweep(item, CLASSIC, weighting=["binary", "log", "none", "tfidf", "bm25"]),
        *_sweep(item, CLASSIC, k=[20, 100, 200]),
        *_sweep(item, CLASSIC, shrink=[0.0, 50.0, 200.0]),
        *_sweep(item, {**CLASSIC, "shrink": 0.0}, k=[5, 10, 20, 30], weighting=["binary", "tfidf", "bm25"]),
        *_sweep(
            item,
            {**CLASSIC, "k": 20, "shrink": 0.0, "weighting": "tfidf"},
            similarity=["asymmetric"],
            alpha=[0.35, 0.65, 0.8],
        ),
        *_sweep(item, {**CLASSIC, "k": 20, "shrink": 0.0, "weighting": "tfidf"}, normalize=["l1", "max"]),
        *_sweep(item, {**CLASSIC, "k": 20, "shrink": 0.0, "weighting": "tfidf"}, history=["log", "raw"]),
        *_sweep(
            item, {**CLASSIC, "k": 20, "shrink": 0.0, "weighting": "tfidf"}, recency_half_life_days=[7.0, 30.0, 180.0]
        ),
        # Cosine on time-decayed behaviour.
        *_sweep(
            item,
            {**CLASSIC, "shrink": 0.0, "history": "log"},
            train_half_life_days=[30.0, 60.0, 120.0, 180.0, 365.0],
            k=[10, 20, 50],
            weighting=["tfidf", "bm25"],
        ),
        *_sweep(item, COSINE_BEST, shrink=[5.0]),
        *_sweep(item, COSINE_BEST, similarity=["asymmetric"], alpha=[0.4, 0.6]),
        # RP3beta, then RP3beta on time-decayed behaviour.
        *_sweep(item, RP3, k=[20, 50], alpha=[0.5, 1.0], beta=[0.0, 0.3, 0.5, 0.7]),
        *_sweep(
            item,
            {**RP3, "history": "log"},
            train_half_life_days=[10.0, 15.0, 20.0, 30.0, 45.0],
            alpha=[0.5, 0.6],
            beta=[0.5, 0.55],
            k=[15, 20],
        ),
        *_sweep(item, RP3_BEST, history=["binary", "raw"]),
        *_sweep(item, RP3_BEST, recency_half_life_days=[60.0, 180.0]),
        *_sweep(item, RP3_BEST, normalize=["l1", "max"]),
        *_sweep(item, RP3_BEST, weighting=["log", "tfidf", "bm25"]),
        *_sweep(item, RP3_BEST, k=[10, 30, 50]),
        # User-user.
        *_sweep("userknn", {}, k=[20, 50, 100, 200], weighting=["binary", "tfidf", "bm25"]),
        *_sweep("userknn", {"k": 100, "weighting": "tfidf"}, power=[0.5, 2.0]),
        *_sweep("userknn", {"k": 100, "weighting": "tfidf"}, shrink=[5.0, 20.0]),
        # Blends: scores scaled to 0..1 per user, then weighted.
        _blend("item+user", (item, COSINE_BEST, 1.0), ("userknn", USER_BEST, 1.0)),
        _blend("2 item+user", (item, COSINE_BEST, 2.0), ("userknn", USER_BEST, 1.0)),
        _blend("rp3+user/2", (item, RP3_BEST, 1.0), ("userknn", USER_BEST, 0.5)),
        _blend("rp3+user", (item, RP3_BEST, 1.0), ("userknn", USER_BEST, 1.0)),
        _blend("rp3+item/2", (item, RP3_BEST, 1.0), (item, COSINE_BEST, 0.5)),
        _blend("rp3+item+user", (item, RP3_BEST, 1.0), (item, COSINE_BEST, 1.0), ("userknn", USER_BEST, 1.0)),
        *[
            _blend(
                f"rp3+user/2+trending*{weight}",
                (item, RP3_BEST, 1.0),
                ("userknn", USER_BEST, 0.5),
                ("trending", {}, weight),
            )
            for weight in (0.05, 0.1, 0.2, 0.4)
        ],
        *[
            _blend(f"rp3+popularity*{weight}", (item, RP3_BEST, 1.0), ("popularity", {}, weight))
            for weight in (0.1, 0.2)
        ],
        # Surprise's rating models on behaviour-derived ratings.
        *_sweep("surprise_knnbaseline", {}, k=[20, 40, 100]),
        *_sweep("surprise_svd", {}, n_factors=[20, 100]),
        # EASE: the L2 penalty, on binary and log-weighted behaviour.
        *_sweep("ease", EASE_PLAIN, l2=[50.0, 100.0, 300.0, 1000.0, 3000.0], weighting=["binary", "log"]),
        *_sweep("ease", EASE_PLAIN, train_half_life_days=[30.0, 60.0, 120.0, 240.0]),
        # RP3beta (its defaults, l1-normalised) and EASE added, each scaled to 0..1 per user.
        *[
            _blend(f"rp3+ease*{weight}", (item, {}, 1.0), ("ease", EASE_PLAIN, weight))
            for weight in (0.5, 0.7, 1.0, 2.0)
        ],
        *[
            _blend(f"rp3+ease*0.5 ease {key}={value}", (item, {}, 1.0), ("ease", {**EASE_PLAIN, key: value}, 0.5))
            for key, value in (("l2", 300.0), ("l2", 3000.0), ("train_half_life_days", 60.0), ("history", "log"))
        ],
        *[
            _blend(f"rp3 {key}={value}+ease*0.5", (item, {key: value}, 1.0), ("ease", EASE_PLAIN, 0.5))
            for key, value in (("k", 20), ("k", 30), ("k", 50), ("history", "binary"))
        ],
        _blend(
            "rp3 history=binary+ease*0.5 ease l2=3000",
            (item, {"history": "binary"}, 1.0),
            ("ease", {**EASE_PLAIN, "l2": 3000.0}, 0.5),
        ),
        _blend(
            "rp3 history=binary+ease ease l2=3000",
            (item, {"history": "binary"}, 1.0),
            ("ease", {**EASE_PLAIN, "l2": 3000.0}, 1.0),
        ),
        _blend(
            "rp3 history=binary+ease*0.5 ease history=log",
            (item, {"history": "binary"}, 1.0),
            ("ease", {**EASE_PLAIN, "history": "log"}, 0.5),
        ),
        *[
            _blend(
                f"rp3 history=binary+ease*{weight} ease history=log train_half_life_days={days}",
                (item, {"history": "binary"}, 1.0),
                ("ease", {"history": "log", "train_half_life_days": days}, weight),
            )
            for weight, days in ((0.5, 120.0), (1.0, 120.0), (0.5, 240.0))
        ],
        _blend(
            "rp3 k=20 history=binary+ease*0.5", (item, {"k": 20, "history": "binary"}, 1.0), ("ease", EASE_PLAIN, 0.5)
        ),
        _blend("rp3+ease*0.5+user*0.5", (item, {}, 1.0), ("ease", EASE_PLAIN, 0.5), ("userknn", USER_BEST, 0.5)),
        # The rp3 history=binary + ease*0.5 history=log blend with a third and a fourth part: the ensemble.
        *[_blend(f"rp3+ease+als*{weight}", *RP3_EASE, ("als", {}, weight)) for weight in (0.25, 0.5)],
        *[_blend(f"rp3+ease+session*{weight}", *RP3_EASE, ("session_knn", {}, weight)) for weight in (0.25, 0.5)],
        *[_blend(f"rp3+ease+trending*{weight}", *RP3_EASE, ("trending", {}, weight)) for weight in (0.05, 0.1)],
        *[
            _blend(f"rp3+ease+content*{weight}", *RP3_EASE, ("content", {}, weight))
            for weight in (0.1, 0.2, 0.3, 0.4, 0.6, 1.0)
        ],
        *[
            _blend(f"rp3+ease+content*{weight}+als*{als}", *RP3_EASE, ("content", {}, weight), ("als", {}, als))
            for weight, als in (
                (0.2, 0.25),
                (0.25, 0.25),
                (0.3, 0.15),
                (0.3, 0.25),
                (0.3, 0.35),
                (0.3, 0.5),
                (0.4, 0.25),
            )
        ],
        *[
            _blend(
                f"rp3+ease+content*0.3+als*0.25 seed {seed}",
                *RP3_EASE,
                ("content", {}, 0.3),
                ("als", {"seed": seed}, 0.25),
            )
            for seed in (1, 2)
        ],
        # Session kNN: neighbours, sample, position and session-recency weights.
        *_sweep("session_knn", {}, k=[50, 100, 200, 500], position_half_life=[1.0, 2.0, 5.0, 20.0]),
        *_sweep("session_knn", {}, sample=[500, 5000], similarity=["dot", "cosine"]),
        *_sweep("session_knn", {}, recency_half_life_days=[7.0, 30.0, 90.0]),
        # implicit's ALS: factors, regularisation, confidence.
        *_sweep("als", {}, factors=[32, 64, 128], regularization=[0.1, 1.0, 10.0]),
        *_sweep("als", {}, alpha=[1.0, 5.0, 20.0], iterations=[15, 30]),
    ]
    return [candidate for candidate in grid if names is None or candidate.cls.name in names]


@dataclass(frozen=True)
class TuningRow:
    label: str
    validation: Metrics
    test: Metrics


def tuning_run(
    *,
    log: pd.DataFrame,
    candidates: list[Candidate] | None = None,
    protocol: str = "users",
    reveal: str = "half",
    progress: Callable[[str], None] | None = None,
) -> list[TuningRow]:
    """Each candidate's figures on the validation split (carved from the train period only) and on
    the test split (median seed run for stochastic models)."""
    prepared = {}
    for name in ("validation", "test"):
        split, truth = split_for(log, split=name, protocol=protocol, reveal=reveal)
        prepared[name] = (interactions_from(split.train), truth)
    rows = []
    for candidate in candidates or tuning_candidates():
        figures = {}
        for name, (data, truth) in prepared.items():
            result = algorithm_evaluate(
                cls=candidate.cls,
                params=candidate.params,
                data=data,
                truth=truth,
                label=candidate.label,
                measure_memory=False,
                rank_with=prefix_rankings if protocol == "sessions" and reveal == "clicks" else None,
            )
            figures[name] = result.metrics
        rows.append(TuningRow(label=candidate.label, validation=figures["validation"], test=figures["test"]))
        if progress:
            progress(candidate.label)
    return rows


def tuning_write(rows: list[TuningRow], *, path: Path) -> Path:
    """The grid's figures as CSV: label, then NDCG@10 and hits on each split."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["configuration", "validation_ndcg_at_10", "validation_hits", "test_ndcg_at_10", "test_hits"])
        for row in rows:
            writer.writerow(
                [row.label, f"{row.validation.ndcg:.6f}", row.validation.hits, f"{row.test.ndcg:.6f}", row.test.hits]
            )
    return path


def tuning_lines(rows: list[TuningRow]) -> list[str]:
    width = max([len(row.label) for row in rows] + [13])
    header = f"{'configuration':{width}s}  {'val NDCG':>8s} {'val hits':>8s}  {'test NDCG':>9s} {'test hits':>9s}"
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row.label:{width}s}  {row.validation.ndcg:8.4f} {row.validation.hits:8d}  "
            f"{row.test.ndcg:9.4f} {row.test.hits:9d}"
        )
    best = max(rows, key=lambda row: row.validation.ndcg)
    lines.append(f"best on validation: {best.label} (validation {best.validation.ndcg:.4f}, test {best.test.ndcg:.4f})")
    return lines
