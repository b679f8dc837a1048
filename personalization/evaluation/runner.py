"""One evaluation run: a log through the protocol for each algorithm, popularity always among them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from personalization.recommenders.base import Recommender
from personalization.recommenders.registry import algorithm, algorithms

from .protocol import (
    PROTOCOLS,
    Result,
    Split,
    algorithm_evaluate,
    ground_truth,
    interactions_from,
    session_split,
    session_validation,
    split_by_time,
    truth_sample,
    validation_split,
)
from .served import coded, served_rankings

BASELINE = "popularity"
SPLITS = ("test", "validation")


@dataclass(frozen=True)
class Candidate:
    """An algorithm to evaluate, with the parameters to build it with and the label it is reported under."""

    label: str
    cls: type[Recommender]
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Run:
    dataset: str
    split: str
    cut: datetime
    users: int
    train_rows: int
    test_rows: int
    train_users: int
    train_items: int
    absent_share: float
    results: list[Result] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    protocol: str = "users"
    # Users who met the protocol's conditions; more than `users` when a sample was drawn from them.
    eligible: int = 0

    @property
    def evaluated(self) -> str:
        """Who the figures average over: users, or sessions under the session protocol."""
        return "sessions" if self.protocol == "sessions" else "users"


def candidates_from(names: Sequence[str] | None) -> list[Candidate]:
    """The named registered algorithms with their defaults (all of them when names is empty), popularity first."""
    wanted = list(names) if names else list(algorithms())
    unknown = [name for name in wanted if name not in algorithms()]
    if unknown:
        raise KeyError(f"no recommender is named {', '.join(unknown)}; known: {', '.join(algorithms())}")
    ordered = [BASELINE, *[name for name in wanted if name != BASELINE]]
    return [Candidate(label=name, cls=algorithm(name)) for name in ordered]


def split_for(log: pd.DataFrame, *, split: str, protocol: str = "users") -> tuple[Split, dict]:
    """The split (test, or validation inside the train period) and its truth, under a protocol."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, not {protocol!r}")
    if protocol == "sessions":
        return session_split(log) if split == "test" else session_validation(log)
    whole = split_by_time(log)
    chosen = whole if split == "test" else validation_split(whole)
    return chosen, ground_truth(chosen)


def evaluation_run(
    *,
    log: pd.DataFrame,
    dataset: str,
    candidates: Sequence[Candidate],
    split: str = "test",
    protocol: str = "users",
    served: bool = False,
    max_users: int | None = None,
    measure_memory: bool = True,
    progress: Callable[[str], None] | None = None,
) -> Run:
    """Evaluate each candidate under the protocol; one that refuses the data (ValueError) or fails
    on it (any other error, such as a third-party model dividing by zero) is reported in its row,
    and the others still run. With served, each algorithm is also scored through the served
    pipeline (served.py), reported as "<label> served". With max_users, a seeded sample of that
    many evaluated users (protocol.truth_sample) stands for them all; measure_memory off saves
    each algorithm's extra traced fit.

    progress is called with each candidate's label once it is done.
    """
    chosen, truth = split_for(log, split=split, protocol=protocol)
    if not truth:
        who = (
            "no test session has an item left after its revealed half"
            if protocol == "sessions"
            else (f"no user has a target item in the {split} period that is new to them")
        )
        raise ValueError(f"{dataset}: {who}")
    eligible = len(truth)
    truth = truth_sample(truth, size=max_users)
    data = interactions_from(chosen.train)
    run = Run(
        dataset=dataset,
        split=split,
        cut=datetime.fromtimestamp(chosen.cut, tz=UTC),
        users=len(truth),
        train_rows=len(chosen.train),
        test_rows=len(chosen.test),
        train_users=data.n_users,
        train_items=data.n_items,
        absent_share=0.0,
        protocol=protocol,
        eligible=eligible,
    )
    jobs = [(candidate, candidate.label, data, truth, None) for candidate in candidates]
    if served:
        served_data, served_truth = coded(data, truth)
        jobs += [
            (candidate, f"{candidate.label} served", served_data, served_truth, served_rankings)
            for candidate in candidates
        ]
    for candidate, label, job_data, job_truth, rank_with in jobs:
        try:
            result = algorithm_evaluate(
                cls=candidate.cls,
                params=candidate.params,
                data=job_data,
                truth=job_truth,
                label=label,
                rank_with=rank_with,
                measure_memory=measure_memory,
            )
        except ValueError as error:
            run.failures[label] = str(error)
        except Exception as error:  # one model's bug must not cost the whole report
            run.failures[label] = f"{type(error).__name__}: {error}"
        else:
            run.results.append(result)
            run.absent_share = result.metrics.absent_share
        if progress:
            progress(label)
    return run
