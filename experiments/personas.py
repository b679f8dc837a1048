"""Personalized against generic on the shopper simulator's personas, through the shop's own
assignment, exposure and metrics.

A real experiment on the home shelf (control: the most popular products for everyone; treatment:
the slot as configured, personalized) is started; each simulated visitor's home page is rendered
by the serving pipeline at the start of each of their sessions, which places them, shows their
variant and records the exposure; the persona clicks what that page really showed (in proportion
to liking it, as the simulator's shoppers do), and their events go through the ingest, so the next
session's page is steered by what they did. The experiment is stopped and its report read: the
lift in slot click-through and conversion with their sequential intervals.

Only the home shelf is rendered for real: the listings, searches and the product pages' shelves
stay the simulator's stand-ins. Simulated time is compressed to now: a session's events are
stamped a millisecond apart from the moment its page was rendered, so an exposure comes before
what followed it, as on the site (session lengths mean nothing here). Orders are not placed: the
purchase events carry their baskets, and the metrics read the event record. A page render and
the ingest per session make this slow (1 to 3 visitors a second here), so its size is bounded.
"""

import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import timezone

from personalization.api import page_state
from personalization.models import ModelVersion
from shop.simulator.catalog import catalog_snapshot_load
from shop.simulator.engine import (
    CatalogSnapshot,
    ProductFact,
    SimSession,
    session_batches,
    visitor_id_for,
    visitor_sessions,
)
from tracking.owners import owner_key
from tracking.services import event_ingest

from .models import Experiment, Metric, Variant
from .selectors import MetricResult, experiment_units, metric_result
from .services import experiment_start, experiment_stop
from .stats import SampleRatio, sample_ratio

SLOT = "home_recommended"
GENERIC, PERSONALIZED = "generic", "personalized"
# Browser-sized batches, as the simulator's sinks send them.
BATCH_EVENTS = 25
# The window the simulator spreads a visitor's sessions over before they are compressed to now.
DAYS = 6.0
# 1,000 visitors took 307 s on the 2-core development machine, 600 took 558 s while other work
# shared it (each session is ~10 ingest calls of 12 ms and a home page of 50 ms): 5,000 take half
# an hour to an hour and a quarter.
MAX_VISITORS = 5_000
METRICS = (Metric.SLOT_CTR, Metric.CONVERSION)


class TrialError(Exception):
    """The trial cannot run as asked; the message says why."""


@dataclass(frozen=True)
class PersonaTrial:
    experiment: Experiment
    seconds: float
    counts: dict[str, int]  # exposed visitors per variant
    srm: SampleRatio  # the 50/50 split checked, as the report does
    results: list[MetricResult]  # personalized against generic: click-through, conversion
    by_persona: dict[str, list[MetricResult]]  # the same, on each persona's visitors


def _experiment() -> Experiment:
    experiment = Experiment.objects.create(
        name=f"Simulated personas {timezone.now():%Y-%m-%d %H:%M:%S} {uuid.uuid4().hex[:6]}",
        hypothesis="The simulator's personas click and buy more from a personalized home shelf than from "
        "the most popular products (experiments_simulate --personas).",
        slot=SLOT,
        layer="simulation",
        primary_metric=Metric.SLOT_CTR,
        guardrails=[Metric.CONVERSION],
    )
    Variant.objects.create(experiment=experiment, key=GENERIC, is_control=True, weight=50, kind=Variant.Kind.POPULAR)
    Variant.objects.create(experiment=experiment, key=PERSONALIZED, weight=50, kind=Variant.Kind.AS_CONFIGURED)
    try:
        return experiment_start(experiment=experiment)
    except ValidationError as error:
        experiment.delete()
        raise TrialError(" ".join(error.messages)) from error


def _now_ms() -> int:
    return int(timezone.now().timestamp() * 1000)


class _Visitor:
    """One simulated visitor on the real home page: renders it as each session begins, then
    sends the session's events stamped from that moment on."""

    def __init__(self, *, visitor_id: uuid.UUID, catalog: CatalogSnapshot) -> None:
        self.visitor_id, self.catalog = visitor_id, catalog
        self.clock = 0  # the last stamp given, in ms

    def home_shelf(self) -> tuple[list[ProductFact], str]:
        blocks = page_state(page="home", user_id=None, visitor_id=self.visitor_id)["slots"]
        self.clock = max(self.clock, _now_ms())
        block = blocks.get(SLOT)
        if block is None:
            return [], ""
        return [self.catalog.by_id[p.pk] for p in block.products if p.pk in self.catalog.by_id], block.algorithm

    def session_send(self, session: SimSession) -> None:
        for batch in session_batches(session, size=BATCH_EVENTS):
            events = []
            for event in batch:
                self.clock += 1
                events.append({**event.raw, "ts": self.clock})
            event_ingest(
                events=events,
                visitor_id=self.visitor_id,
                session_id=session.session_id,
                source=batch[0].source,
                received_at=timezone.now(),
            )


def personas_trial(*, visitors: int, seed: int, progress: Callable[[int], None] | None = None) -> PersonaTrial:
    """Run visitors of the persona cycle through a new experiment of generic against personalized
    home shelves, stop it and read its report (see the module's docstring)."""
    if not 10 <= visitors <= MAX_VISITORS:
        raise TrialError(f"Give between 10 and {MAX_VISITORS:,} visitors.")
    catalog = catalog_snapshot_load()
    if not catalog.products:
        raise TrialError("The catalog has no active products: run `manage.py seed_demo` first.")
    if not ModelVersion.objects.filter(status=ModelVersion.Status.READY, is_active=True).exists():
        raise TrialError("No recommender is trained, so nothing would be personalized: run `manage.py retrain` first.")
    started = time.perf_counter()
    experiment = _experiment()
    # A seed of the run's own: the visitors and their event ids are new, never an earlier run's.
    run_seed = seed * 1_000_003 + experiment.pk
    personas: dict[str, str] = {}
    end, clock = timezone.now(), 0
    try:
        for index in range(visitors):
            visitor = _Visitor(visitor_id=visitor_id_for(seed=run_seed, index=index), catalog=catalog)
            plan, sessions = visitor_sessions(
                seed=run_seed, index=index, catalog=catalog, end=end, days=DAYS, home_shelf=visitor.home_shelf
            )
            personas[owner_key(user_id=None, visitor_id=plan.visitor_id)] = plan.persona.key
            for session in sessions:
                visitor.session_send(session)
            clock = max(clock, visitor.clock)
            if progress:
                progress(1)
    finally:
        # Stopped once the last stamp is past, so the report counts every event sent.
        time.sleep(max(0, clock + 1 - _now_ms()) / 1000)
        experiment = experiment_stop(experiment=experiment)
    units = experiment_units(experiment=experiment)
    by_variant: dict[str, list] = defaultdict(list)
    by_persona: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for owner, unit in units.items():
        by_variant[unit.variant].append(unit)
        by_persona[personas.get(owner, "")][unit.variant].append(unit)

    def lifts(groups: dict[str, list]) -> list[MetricResult]:
        return [
            metric_result(metric=metric, variant=PERSONALIZED, control=groups[GENERIC], treatment=groups[PERSONALIZED])
            for metric in METRICS
        ]

    return PersonaTrial(
        experiment=experiment,
        seconds=time.perf_counter() - started,
        counts={GENERIC: len(by_variant[GENERIC]), PERSONALIZED: len(by_variant[PERSONALIZED])},
        srm=sample_ratio(counts=[len(by_variant[GENERIC]), len(by_variant[PERSONALIZED])], weights=[50, 50]),
        results=lifts(by_variant),
        by_persona={persona: lifts(groups) for persona, groups in sorted(by_persona.items()) if persona},
    )
