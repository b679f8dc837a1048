"""Runs a simulation: generates each visitor, hands them to a sink, adds up what became of their events."""

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import TypeVar

from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.utils import timezone

from tracking.partitions import partitions_ensure
from tracking.validation import MAX_AGE

from .catalog import catalog_snapshot_load
from .engine import CatalogSnapshot, SimVisitor, visitor_simulate
from .sinks import HttpSink, HttpStats, InProcessSink, VisitorOutcome, url_check

# Sessions must stay younger than the collector's MAX_AGE (7 days) until the run has
# stored them; half a day spare covers the longest run we measured many times over.
MAX_DAYS = (MAX_AGE - timedelta(hours=12)) / timedelta(days=1)
# Below a day, eight sessions of a regular no longer fit with 30-minute gaps between them.
MIN_DAYS = 1.0
SHOPPER_USERNAME = "shopper{n}"  # the accounts seed_demo creates: shopper1 .. shopperK


T = TypeVar("T")


class SimulationError(Exception):
    """The simulation cannot run as asked; the message says why."""


@dataclass
class PersonaTally:
    visitors: int = 0
    sessions: int = 0
    events: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: int = 0
    orders: int = 0

    def add(self, outcome: VisitorOutcome) -> None:
        self.visitors += 1
        for name in ("sessions", "events", "accepted", "duplicates", "rejected", "skipped", "orders"):
            setattr(self, name, getattr(self, name) + getattr(outcome, name))


@dataclass
class SimulationReport:
    mode: str
    seed: int
    window_end: datetime
    by_persona: dict[str, PersonaTally] = field(default_factory=dict)
    reasons: Counter = field(default_factory=Counter)
    # visitor id -> persona key, for whoever wants to look the simulated visitors up.
    visitors: dict = field(default_factory=dict)
    elapsed: float = 0.0
    http: HttpStats | None = None
    # Visitors never started because the time limit (HTTP mode) came first.
    not_started: int = 0

    def add(self, visitor: SimVisitor, outcome: VisitorOutcome) -> None:
        self.by_persona.setdefault(visitor.persona.key, PersonaTally()).add(outcome)
        self.reasons.update(outcome.reasons)
        self.visitors[visitor.visitor_id] = visitor.persona.key

    @property
    def total(self) -> PersonaTally:
        total = PersonaTally()
        for tally in self.by_persona.values():
            for item in fields(PersonaTally):
                setattr(total, item.name, getattr(total, item.name) + getattr(tally, item.name))
        return total

    @property
    def events_per_second(self) -> float:
        total = self.total
        handled = total.accepted + total.duplicates + total.rejected
        return handled / self.elapsed if self.elapsed > 0 else 0.0


def window_end(now: datetime | None = None) -> datetime:
    """The end of the simulated window: now, cut to the hour, so that runs within the same
    hour produce the very same timestamps."""
    return (now or timezone.now()).replace(minute=0, second=0, microsecond=0)


def _days_check(days: float) -> None:
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise SimulationError(f"--days must be between {MIN_DAYS:g} and {MAX_DAYS:g}")


def _catalog() -> CatalogSnapshot:
    catalog = catalog_snapshot_load()
    if not catalog.products:
        raise SimulationError("the catalog has no active products: run `manage.py seed_demo` first")
    return catalog


def _shopper_accounts(users: int) -> list[int]:
    """User ids of shopper1..K, in that order."""
    if users <= 0:
        return []
    names = [SHOPPER_USERNAME.format(n=n) for n in range(1, users + 1)]
    found = dict(get_user_model().objects.filter(username__in=names).values_list("username", "pk"))
    missing = [name for name in names if name not in found]
    if missing:
        raise SimulationError(
            f"{len(missing)} shopper accounts are missing ({missing[0]} …): "
            f"run `manage.py seed_demo --shoppers {users}`"
        )
    return [found[name] for name in names]


def _fan_out(count: int, workers: int, work: Callable[[int], T], *, on_exit: Callable[[], None]) -> Iterator[T]:
    """work(0) .. work(count - 1) on `workers` threads, yielding results as they finish;
    in the calling thread when workers is 1. on_exit runs in each worker thread at its end."""
    if workers <= 1 or count <= 1:
        for index in range(count):
            yield work(index)
        return
    indices, lock, stop = iter(range(count)), threading.Lock(), threading.Event()
    results: queue.Queue = queue.Queue()

    def run() -> None:
        try:
            while not stop.is_set():
                with lock:
                    index = next(indices, None)
                if index is None:
                    return
                try:
                    results.put((True, work(index)))
                except Exception as error:
                    results.put((False, error))
                    return
        finally:
            on_exit()

    threads = [threading.Thread(target=run, name=f"shopper-{n}", daemon=True) for n in range(min(workers, count))]
    for thread in threads:
        thread.start()
    try:
        for _ in range(count):
            ok, value = results.get()
            if not ok:
                raise value
            yield value
    finally:
        stop.set()  # an error or Ctrl-C: workers finish the visitor at hand, then stop
        for thread in threads:
            thread.join()


def shoppers_simulate(
    *,
    visitors: int,
    seed: int,
    days: float,
    users: int = 0,
    concurrency: int = 1,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> SimulationReport:
    """Simulate visitors through the in-process ingest, `concurrency` visitors at a time, each
    thread on its own database connection; the first `users` sign in as shopper1..K.

    Inside a transaction (a test, an atomic block) it stays in the calling thread: other
    connections could not see what that transaction has not committed.
    """
    _days_check(days)
    if users > visitors:
        raise SimulationError("--users cannot exceed --visitors")
    if concurrency < 1:
        raise SimulationError("--concurrency must be at least 1")
    catalog = _catalog()
    accounts = _shopper_accounts(users)
    end = window_end(now)
    partitions_ensure(start=end - timedelta(days=days), end=end)
    report = SimulationReport(mode="in-process", seed=seed, window_end=end)
    sink = InProcessSink()

    def one(index: int) -> tuple[SimVisitor, VisitorOutcome]:
        signed_in = index < len(accounts)
        visitor = visitor_simulate(
            seed=seed,
            index=index,
            catalog=catalog,
            end=end,
            days=days,
            login_as=SHOPPER_USERNAME.format(n=index + 1) if signed_in else None,
        )
        return visitor, sink.visitor_send(visitor, user_id=accounts[index] if signed_in else None)

    workers = 1 if connection.in_atomic_block else concurrency
    started = time.perf_counter()
    for visitor, outcome in _fan_out(visitors, workers, one, on_exit=connections.close_all):
        report.add(visitor, outcome)
        if progress:
            progress(1)
    report.elapsed = time.perf_counter() - started
    return report


def shoppers_simulate_http(
    *,
    url: str,
    visitors: int,
    seed: int,
    days: float,
    concurrency: int,
    rate: float,
    max_seconds: float,
    progress: Callable[[int], None] | None = None,
) -> SimulationReport:
    """Post the visitors' browser events to the collector of a server on this machine, from
    `concurrency` threads at most `rate` requests a second, for at most max_seconds."""
    _days_check(days)
    try:
        url_check(url)
    except ValueError as error:
        raise SimulationError(str(error)) from error
    if concurrency < 1 or max_seconds <= 0 or rate < 0:
        raise SimulationError("--concurrency must be at least 1, --max-seconds above 0 and --rate not negative")
    catalog = _catalog()
    end = window_end()
    report = SimulationReport(mode="http", seed=seed, window_end=end, http=HttpStats())
    started = time.perf_counter()
    sink = HttpSink(url=url, rate=rate, deadline=time.monotonic() + max_seconds, stats=report.http)

    def one(index: int) -> tuple[SimVisitor, VisitorOutcome] | None:
        if time.monotonic() >= sink.deadline:
            return None
        visitor = visitor_simulate(seed=seed, index=index, catalog=catalog, end=end, days=days)
        return visitor, sink.visitor_send(visitor)

    for done in _fan_out(visitors, concurrency, one, on_exit=sink.close):
        if done is None:
            report.not_started += 1
        else:
            report.add(*done)
        if progress:
            progress(1)
    report.elapsed = time.perf_counter() - started
    return report
