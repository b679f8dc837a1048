"""The offline evaluation protocol of EVALUATION.md as pure functions: split, truth, rankings, metrics."""

from __future__ import annotations

import random
import statistics
import time
import tracemalloc
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from personalization.recommenders.base import Context, Interactions, Recommender

from .noise import standard_error

# A log has one row per interaction: who, what, when (epoch seconds), its training weight,
# and whether it counts as a target in the test period. Optional: "category", "brand" and
# "text" (what the item is, become item_features), "rating" (explicit stars, become
# Interactions.ratings) and "split" ("train"/"test", a dataset's own split).
LOG_COLUMNS = ("user", "item", "ts", "weight", "target")
TEST_SHARE = 0.2
# Hyper-parameters are chosen on the last 10% of the train period's time, never on the test.
VALIDATION_SHARE = 0.1
LIST_LENGTH = 20
CUTOFF = 10
SEEDS = (0, 1, 2)


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    test: pd.DataFrame
    cut: float  # epoch seconds; train is ts < cut


@dataclass(frozen=True)
class Metrics:
    """Means over evaluated users, each with its standard error; per_user keeps every user's
    figure (in truth order, the same for every algorithm of a run) for paired differences."""

    users: int
    precision: float  # P@10
    recall: float  # R@20
    ndcg: float  # NDCG@10
    hit_rate: float  # HR@10
    coverage: float  # coverage@10
    hits: int  # all users' top-10 hits
    absent_share: float  # share of truth items never seen in train
    hr20: float = 0.0  # HR@20: share of users with a hit in the top 20 (the session literature's)
    mrr20: float = 0.0  # MRR@20: mean reciprocal rank of the first hit within the top 20
    ndcg_se: float = 0.0
    precision_se: float = 0.0
    recall_se: float = 0.0
    hit_rate_se: float = 0.0
    hr20_se: float = 0.0
    mrr20_se: float = 0.0
    per_user: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)


@dataclass
class Result:
    """One algorithm's figures; for a stochastic one the median-NDCG run, with every seed's NDCG kept."""

    algorithm: str
    params: dict[str, Any]
    metrics: Metrics
    fit_seconds: float  # mean over runs
    peak_bytes: int  # Python-heap peak of one fit (tracemalloc); 0 when not measured
    seed: int | None = None
    runs: list[float] = field(default_factory=list)


def log_validate(log: pd.DataFrame) -> pd.DataFrame:
    """The log with its required columns typed; raises ValueError naming what is missing."""
    missing = [column for column in LOG_COLUMNS if column not in log.columns]
    if missing:
        raise ValueError(f"the log lacks {', '.join(missing)}")
    log = log.assign(
        ts=log["ts"].astype(np.float64),
        weight=log["weight"].astype(np.float64),
        target=log["target"].astype(bool),
    )
    return log.reset_index(drop=True)


def split_by_time(log: pd.DataFrame, *, test_share: float = TEST_SHARE) -> Split:
    """Test is the last test_share of [min ts, max ts]; train every row before that cut.

    A log with a "split" column keeps its own split (the cut is then its first test time).
    """
    log = log_validate(log)
    if log.empty:
        raise ValueError("the log is empty")
    if "split" in log.columns:
        is_test = log["split"].eq("test")
        train, test = log[~is_test], log[is_test]
        cut = float(test["ts"].min()) if len(test) else float(log["ts"].max()) + 1.0
        return Split(train=train.drop(columns="split").reset_index(drop=True), test=test.drop(columns="split"), cut=cut)
    low, high = float(log["ts"].min()), float(log["ts"].max())
    cut = low + (1.0 - test_share) * (high - low)
    before = log["ts"] < cut
    return Split(train=log[before].reset_index(drop=True), test=log[~before].reset_index(drop=True), cut=cut)


def validation_split(split: Split, *, share: float = VALIDATION_SHARE) -> Split:
    """The same protocol inside the train period: its last `share` of time becomes the test."""
    return split_by_time(split.train, test_share=share)


PROTOCOLS = ("users", "sessions")
# How a test session is shown to the models: its first half at once, or click by click (each of
# its prefixes asked for the next item, as session-rec evaluates).
REVEALS = ("half", "clicks")
# Prefixes asked per test session under the click-by-click reveal: a bot's session of hundreds of
# views would otherwise outweigh every shopper's; the first ones are kept.
MAX_PREFIXES = 20


def test_sessions(log: pd.DataFrame, *, test_share: float = TEST_SHARE) -> tuple[pd.Series, float]:
    """Per row, whether its session is a test session (see session_split), and the cut in time."""
    if "split" in log.columns:
        is_test = log.groupby("user")["split"].transform(lambda values: values.eq("test").any()).astype(bool)
        cut = float(log.loc[is_test, "ts"].min()) if is_test.any() else float(log["ts"].max()) + 1.0
        return is_test, cut
    # A share of sessions rather than of time: a log whose hours are uneven (REES46's first file has
    # a tenth of its events before 02:00 and the rest in 50 minutes) would otherwise put most
    # sessions in test, and leave a validation split with none.
    starts = log.groupby("user")["ts"].transform("min")
    firsts = np.sort(log.groupby("user")["ts"].min().to_numpy())
    cut = float(firsts[-max(1, round(test_share * len(firsts)))])
    return starts >= cut, cut


def session_validation(log: pd.DataFrame, *, reveal: str = "half") -> tuple[Split, dict[Hashable, frozenset]]:
    """The session protocol inside the train sessions only: the VALIDATION_SHARE of them starting last are test."""
    log = log_validate(log)
    is_test, _ = test_sessions(log)
    inside = log[~is_test].drop(columns="split", errors="ignore")
    if reveal == "clicks":
        return click_split(inside, test_share=VALIDATION_SHARE)
    return session_split(inside, test_share=VALIDATION_SHARE)


def _sessions_ordered(log: pd.DataFrame, *, test_share: float) -> tuple[pd.DataFrame, pd.Series, float]:
    """The log by session then time (its own split column dropped), which rows are test sessions', and the cut."""
    log = log_validate(log)
    if log.empty:
        raise ValueError("the log is empty")
    log = log.sort_values(["user", "ts"], kind="stable").reset_index(drop=True)
    is_test, cut = test_sessions(log, test_share=test_share)
    return log.drop(columns="split", errors="ignore"), is_test, cut


@dataclass(frozen=True)
class Prefix:
    """One question of the click-by-click reveal: a test session's first `step` items (in time
    order), whose next item is the truth."""

    session: Hashable
    step: int
    items: tuple


def click_split(
    log: pd.DataFrame, *, test_share: float = TEST_SHARE, max_prefixes: int = MAX_PREFIXES
) -> tuple[Split, dict[Prefix, frozenset]]:
    """The session protocol with each test session revealed click by click (session-rec's
    iterative next-item evaluation).

    Models are fit on the train sessions only; for each prefix of a test session (its first 1,
    2, ... events, at most max_prefixes of them) the truth is the event that follows. As under the
    half reveal only new items are predicted: a next item the prefix already holds (a repeated
    view) is not asked, and the prefix's items are not candidates. Returns the split (test holds
    the test sessions whole) and the truth keyed by Prefix; a model reads the prefix from the key.
    """
    log, is_test, cut = _sessions_ordered(log, test_share=test_share)
    train, test = log[~is_test].reset_index(drop=True), log[is_test].reset_index(drop=True)
    truth: dict[Prefix, frozenset] = {}
    for session, items in test.groupby("user", sort=True)["item"]:
        sequence = items.tolist()
        for step in range(1, min(len(sequence), max_prefixes + 1)):
            prefix, following = tuple(sequence[:step]), sequence[step]
            if following not in prefix:
                truth[Prefix(session=session, step=step, items=prefix)] = frozenset([following])
    return Split(train=train, test=test, cut=cut), truth


def prefix_rankings(
    model: Recommender, data: Interactions, prefixes: Iterable[Prefix], *, n: int = LIST_LENGTH
) -> dict[Prefix, list]:
    """Each prefix's top n item ids for its next item: the prefix as a live profile (its items,
    most recent first; items the model never saw left out), candidates the rest of the catalog."""
    lists = {}
    for prefix in prefixes:
        indices = [index for item in prefix.items if (index := data.item_index(item)) is not None]
        context = Context(history=dict.fromkeys(indices, 1.0), recent=tuple(reversed(indices)))
        ranked = model.recommend(context, n=n, exclude=set(indices))
        lists[prefix] = [data.item_ids[i] for i, _ in ranked]
    return lists


def session_split(log: pd.DataFrame, *, test_share: float = TEST_SHARE) -> tuple[Split, dict[Hashable, frozenset]]:
    """The session protocol of EVALUATION.md: whole sessions (each log user is a session) are
    train or test, and each test session's first half is revealed.

    Test sessions are those the dataset's own split marks test, else the test_share of sessions
    that start last (the cut is the first of their starts). Each test session's first max(1, n // 2) events (by time)
    join train, so every model is fit on train plus the revealed prefixes; its truth is the rest
    of its distinct items that it did not reveal. Sessions with nothing left to predict are not
    evaluated. Returns the split (test holds the unrevealed events) and the truth.
    """
    log, is_test, cut = _sessions_ordered(log, test_share=test_share)
    position = log.groupby("user").cumcount()
    length = log.groupby("user")["ts"].transform("size")
    revealed = ~is_test | (position < np.maximum(1, length // 2))
    train, test = log[revealed].reset_index(drop=True), log[~revealed].reset_index(drop=True)
    seen = train.loc[train["user"].isin(test["user"].unique()), ["user", "item"]].drop_duplicates()
    rest = test[["user", "item"]].drop_duplicates().merge(seen.assign(_seen=True), on=["user", "item"], how="left")
    fresh = rest[rest["_seen"].isna()]
    truth = {user: frozenset(items) for user, items in fresh.groupby("user", sort=True)["item"]}
    return Split(train=train, test=test, cut=cut), truth


def ground_truth(split: Split) -> dict[Hashable, frozenset]:
    """Evaluated users and their truth: distinct target test items they did not interact with in train.

    Users without a train interaction, or whose every target test item was already in their
    train history, are not evaluated.
    """
    targets = split.test.loc[split.test["target"], ["user", "item"]].drop_duplicates()
    known = split.train[["user", "item"]].drop_duplicates()
    targets = targets[targets["user"].isin(known["user"].unique())]
    merged = targets.merge(known.assign(_seen=True), on=["user", "item"], how="left")
    fresh = merged[merged["_seen"].isna()]
    return {user: frozenset(items) for user, items in fresh.groupby("user", sort=True)["item"]}


def truth_sample(truth: Mapping[Hashable, frozenset], *, size: int | None, seed: int = 0) -> dict[Hashable, frozenset]:
    """At most `size` evaluated users, drawn without replacement by a seeded generator (the same
    users for every algorithm of a run, and for the same log on every run); all when size is None."""
    if size is None or len(truth) <= size:
        return dict(truth)
    chosen = set(random.Random(seed).sample(sorted(truth, key=str), size))
    return {user: items for user, items in truth.items() if user in chosen}


ITEM_FEATURES = ("category", "brand", "text")


def interactions_from(train: pd.DataFrame) -> Interactions:
    """The training matrix: summed weights per (user, item), latest time per cell, what items are
    (category, brand, text: each the latest an interaction gave, as catalogs get re-filed) and
    explicit stars (a cell's latest rating)."""
    data = Interactions.from_triples(
        users=train["user"].to_numpy(),
        items=train["item"].to_numpy(),
        weights=train["weight"].to_numpy(dtype=np.float64),
        times=train["ts"].to_numpy(dtype=np.float64),
    )
    ordered = train.sort_values("ts", kind="stable")
    for feature in ITEM_FEATURES:
        if feature in train.columns:
            known = ordered[ordered[feature].notna()].drop_duplicates("item", keep="last").set_index("item")
            data.item_features[feature] = known[feature].reindex(data.item_ids).to_numpy(dtype=object)
    if "rating" in train.columns and train["rating"].notna().any():
        rated = ordered[ordered["rating"].notna()].drop_duplicates(["user", "item"], keep="last")
        users = np.searchsorted(data.user_ids, rated["user"].to_numpy())
        items = np.searchsorted(data.item_ids, rated["item"].to_numpy())
        data.ratings = sp.csr_matrix(
            (rated["rating"].to_numpy(dtype=np.float32), (users, items)), shape=data.matrix.shape
        )
    return data


def _row(matrix: sp.csr_matrix, row: int) -> tuple[np.ndarray, np.ndarray]:
    """One CSR row's column indices and values, read off its arrays: slicing the matrix built a
    one-row matrix per call, over half the time of ranking a user (0.25 ms on the demo data)."""
    start, end = matrix.indptr[row], matrix.indptr[row + 1]
    return matrix.indices[start:end], matrix.data[start:end]


def user_context(data: Interactions, user: int) -> Context:
    """A known user's whole train history, most recent first in `recent`."""
    items, weights = _row(data.matrix, user)
    if data.last_seen is not None:
        times = dict(zip(*(values.tolist() for values in _row(data.last_seen, user)), strict=True))
        stamps = np.array([times.get(i, 0.0) for i in items.tolist()])
        recent = tuple(int(items[j]) for j in np.lexsort((items, -stamps)))
    else:
        recent = tuple(int(i) for i in items)
    history = {int(i): float(w) for i, w in zip(items.tolist(), weights.tolist(), strict=True)}
    return Context(history=history, recent=recent, user_index=user)


def rankings_compute(
    model: Recommender, data: Interactions, users: Iterable[Hashable], *, n: int = LIST_LENGTH
) -> dict[Hashable, list]:
    """Each user's top n item ids; candidates are the train items they did not interact with."""
    lists = {}
    for user in users:
        index = data.user_index(user)
        if index is None:
            continue
        context = user_context(data, index)
        ranked = model.recommend(context, n=n, exclude=set(context.history))
        lists[user] = [data.item_ids[i] for i, _ in ranked]
    return lists


def metrics_compute(
    *, rankings: Mapping[Hashable, list], truth: Mapping[Hashable, frozenset], train_items: Iterable
) -> Metrics:
    """The protocol's metrics averaged over the users in truth (a user without a list scores zero)."""
    catalog = set(train_items)
    discounts = 1.0 / np.log2(np.arange(2, CUTOFF + 2))
    precision, recall, ndcg, hit, hit20, reciprocal = [], [], [], [], [], []
    shown: set = set()
    hits = absent = truth_total = 0
    for user, relevant in truth.items():
        ranked = rankings.get(user, [])
        top = ranked[:CUTOFF]
        gains = np.array([item in relevant for item in top], dtype=np.float64)
        top_hits = int(gains.sum())
        ideal = discounts[: min(len(relevant), CUTOFF)].sum()
        precision.append(top_hits / CUTOFF)
        recall.append(sum(item in relevant for item in ranked[:LIST_LENGTH]) / len(relevant))
        ndcg.append(float(gains @ discounts[: len(gains)]) / ideal)
        hit.append(top_hits > 0)
        first = next((rank for rank, item in enumerate(ranked[:LIST_LENGTH], start=1) if item in relevant), None)
        hit20.append(first is not None)
        reciprocal.append(1.0 / first if first else 0.0)
        hits += top_hits
        shown.update(top)
        absent += len(relevant - catalog)
        truth_total += len(relevant)
    per_user = {
        name: np.asarray(values, dtype=np.float64)
        for name, values in (
            ("precision", precision),
            ("recall", recall),
            ("ndcg", ndcg),
            ("hit_rate", hit),
            ("hr20", hit20),
            ("mrr20", reciprocal),
        )
    }
    means = {name: float(values.mean()) if values.size else 0.0 for name, values in per_user.items()}
    errors = {f"{name}_se": standard_error(values) for name, values in per_user.items()}
    return Metrics(
        users=len(truth),
        coverage=len(shown & catalog) / len(catalog) if catalog else 0.0,
        hits=hits,
        absent_share=absent / truth_total if truth_total else 0.0,
        per_user=per_user,
        **means,
        **errors,
    )


def fit_timed(make: Callable[[], Recommender], data: Interactions) -> tuple[Recommender, float]:
    """Fit a fresh model; returns it with the wall seconds the fit took."""
    started = time.perf_counter()
    model = make().fit(data)
    return model, time.perf_counter() - started


def fit_peak_bytes(make: Callable[[], Recommender], data: Interactions) -> int:
    """Peak Python-heap bytes a fresh fit allocates (tracemalloc; numpy's arrays are counted).

    A separate fit: tracing slows Surprise's fits 2.5 times (SVD 1.75 s -> 4.4 s on online
    retail), which would spoil the training times.
    """
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    make().fit(data)
    _, peak = tracemalloc.get_traced_memory()
    if not tracing:
        tracemalloc.stop()
    return max(peak - base, 0)


def algorithm_evaluate(
    *,
    cls: type[Recommender],
    params: Mapping[str, Any] | None = None,
    data: Interactions,
    truth: Mapping[Hashable, frozenset],
    label: str | None = None,
    measure_memory: bool = True,
    rank_with: Callable[..., dict[Hashable, list]] | None = None,
) -> Result:
    """Fit, rank and score one algorithm; a stochastic one runs with seeds 0, 1, 2 and reports the median NDCG run.

    Memory is measured on one extra fit (the first seed's), unless measure_memory is off.
    rank_with(model, data, users) makes the lists (rankings_compute unless given: the served
    pipeline gives its own).
    """
    params = dict(params or {})
    seeds: tuple[int | None, ...] = SEEDS if cls.stochastic else (None,)
    runs = []
    peak = 0
    for seed in seeds:
        run_params = params if seed is None else {**params, "seed": seed}

        def make(run_params: dict = run_params) -> Recommender:
            return cls(**run_params)

        model, seconds = fit_timed(make, data)
        if measure_memory and not runs:
            peak = fit_peak_bytes(make, data)
        lists = (rank_with or rankings_compute)(model, data, truth)
        metrics = metrics_compute(rankings=lists, truth=truth, train_items=data.item_ids.tolist())
        runs.append((metrics, seconds, seed))
    ndcgs = [metrics.ndcg for metrics, *_ in runs]
    median = statistics.median_low(ndcgs)
    chosen = next(run for run in runs if run[0].ndcg == median)
    return Result(
        algorithm=label or cls.name,
        params=params,
        metrics=chosen[0],
        fit_seconds=float(np.mean([run[1] for run in runs])),
        peak_bytes=peak,
        seed=chosen[2],
        runs=ndcgs if len(runs) > 1 else [],
    )
