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
    REVEALS,
    Result,
    Split,
    algorithm_evaluate,
    click_split,
    ground_truth,
    interactions_from,
    prefix_rankings,
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
    reveal: str = "half"

    @property
    def evaluated(self) -> str:
        """Who the figures average over: users, sessions under the session protocol, or a session's
        prefixes under its click-by-click reveal."""
        if self.protocol != "sessions":
            return "users"
        return "predictions" if self.reveal == "clicks" else "sessions"

    @property
    def design(self) -> str:
        """The protocol as the report names it (the reveal too, when it is click by click)."""
        return f"{self.protocol} protocol, clicks reveal" if self.reveal == "clicks" else f"{self.protocol} protocol"


def candidates_from(names: Sequence[str] | None) -> list[Candidate]:
    """The named registered algorithms with their defaults (all of them when names is empty), popularity first."""
    wanted = list(names) if names else list(algorithms())
    unknown = [name for name in wanted if name not in algorithms()]
    if unknown:
        raise KeyError(f"no recommender is named {', '.join(unknown)}; known: {', '.join(algorithms())}")
    ordered = [BASELINE, *[name for name in wanted if name != BASELINE]]
    return [Candidate(label=name, cls=algorithm(name)) for name in ordered]


def split_for(log: pd.DataFrame, *, split: str, protocol: str = "users", reveal: str = "half") -> tuple[Split, dict]:
    """The split (test, or validation inside the train period) and its truth, under a protocol
    (and, for sessions, a reveal: the truth is keyed by protocol.Prefix under "clicks")."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, not {protocol!r}")
    if reveal not in REVEALS:
        raise ValueError(f"reveal must be one of {REVEALS}, not {reveal!r}")
    if protocol == "sessions":
        if split == "validation":
            return session_validation(log, reveal=reveal)
        return click_split(log) if reveal == "clicks" else session_split(log)
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
    reveal: str = "half",
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

    Under the session protocol with reveal "clicks", each prefix of a test session is asked for
    its next item (protocol.click_split); the served pipeline reads a person's whole history, so
    it is scored under the half reveal only.

    progress is called with each candidate's label once it is done.
    """
    clicks = protocol == "sessions" and reveal == "clicks"
    if clicks and served:
        raise ValueError("the served pipeline is scored under the half reveal only; drop --served or --reveal clicks")
    chosen, truth = split_for(log, split=split, protocol=protocol, reveal=reveal)
    if not truth:
        who = (
            (
                "no test session has a new next item"
                if clicks
                else "no test session has an item left after its revealed half"
            )
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
        reveal=reveal if protocol == "sessions" else "half",
    )
    jobs = [(candidate, candidate.label, data, truth, prefix_rankings if clicks else None) for candidate in candidates]
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
