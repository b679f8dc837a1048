"""Strict, ordered funnels over the event record, computed with pandas.

What the numbers mean, exactly:

- A subject is the signed-in user when the event carries a user id (identity_link gives a
  visitor's earlier anonymous events that id too), otherwise the anonymous visitor id.
- An attempt starts at every step-1 event inside the date range. Step k is reached at the
  subject's first step-k event after the moment step k-1 was reached, and at most the funnel's
  window after the attempt's step-1 event. "After" means at the same instant or later, except
  when two consecutive steps name the same event: then strictly later, so one event never
  counts as two steps. Order is strict: a purchase before the add-to-cart does not count,
  and neither do steps reached by other subjects.
- Later steps may fall after the range's last day, up to the window: a shopper who viewed on
  the last evening and bought the next morning counts as converted.
- Each subject counts once, by their deepest attempt (the earliest of equally deep ones).
  Entrants of step k are the subjects whose best attempt reached step k; conversion from the
  previous step is entrants(k) / entrants(k-1), from the first is entrants(k) / entrants(1),
  and the median time from the previous step is taken over those same best attempts.

Taking the first step-k event after step k-1 is never worse than any later one: every later
step then has the most time left, so this greedy match finds the deepest reach of an attempt.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.db.models import BigIntegerField, CharField, Count, Func, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from ..models import Event, Funnel, FunnelStep, property_typed
from ..registry import REGISTRY, EventName

# Micro-conversions shown beside a funnel; a scroll counts from this depth on.
MICRO_CONVERSIONS = (EventName.MICRO_CONVERSION, EventName.VIDEO_PLAY, EventName.SCROLL, EventName.ADD_TO_WISHLIST)
DEEP_SCROLL_PERCENT = 75


@dataclass(frozen=True)
class StepResult:
    position: int
    label: str
    entrants: int
    from_previous: float | None
    from_first: float | None
    median_from_previous: timedelta | None


@dataclass(frozen=True)
class FunnelReport:
    funnel: Funnel
    start: datetime
    end: datetime
    steps: list[StepResult]

    @property
    def overall(self) -> float | None:
        return self.steps[-1].from_first if self.steps else None


def step_filter(step: FunnelStep) -> Q:
    """The events that count as this step: its name, narrowed by product, category or a property."""
    query = Q(name=step.event_name)
    if step.product_id:
        query &= Q(product_id=step.product_id)
    if step.category_id:
        query &= Q(category_id=step.category_id)
    if step.property_key:
        spec = REGISTRY[step.event_name]
        kind = spec.fields[step.property_key]
        # The key was checked against the registry when the step was saved: no lookup injection.
        query &= Q(**{f"properties__{step.property_key}": property_typed(kind, step.property_value)})
    return query


class EpochMicroseconds(Func):
    """A timestamp as integer microseconds since 1970, so rows arrive as plain ints, not datetimes."""

    output_field = BigIntegerField()

    def as_sql(self, compiler, connection, **extra):  # SQLite keeps UTC text; julianday reads it to ~1 ms
        template = "CAST(ROUND((julianday(%(expressions)s) - 2440587.5) * 86400000000) AS INTEGER)"
        return super().as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler, connection, **extra):
        template = "(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint"
        return super().as_sql(compiler, connection, template=template, **extra)


class VisitorKey(Func):
    """A visitor UUID as a 64-bit integer on Postgres: 64 bits of its md5, so a million visitors
    share a key with odds of about one in thirty million. Hashed rather than cut, because
    the browser picks its visitor id and need not pick it at random. Other databases hand
    the stored text over as it is; either way pandas factorizes it (and a text output field
    keeps Django from casting the SQLite text to int)."""

    output_field = CharField()
    template = "%(expressions)s"

    def as_postgresql(self, compiler, connection, **extra):
        template = "('x' || left(md5(%(expressions)s::text), 16))::bit(64)::bigint"
        return super().as_sql(compiler, connection, template=template, **extra)


def funnel_events(*, steps: list[FunnelStep], start: datetime, end: datetime, window: timedelta) -> pd.DataFrame:
    """Only what the computation needs, one query per step: step index, subject code, time.

    Step 1 is read from the range; later steps up to the window past its end. A step's
    query uses the (name, occurred_at) index, and the database turns UUIDs and times into
    integers: with 430,000 matching rows that cut reading from 3.4 s to 1.2 s, because the
    rows no longer become Python UUID and datetime objects one by one.
    """
    frames = []
    for index, step in enumerate(steps):
        upper = end if index == 0 else end + window
        rows = list(
            Event.objects.filter(step_filter(step), occurred_at__gte=start, occurred_at__lt=upper)
            .order_by()
            .values_list(VisitorKey("visitor_id"), "user_id", EpochMicroseconds("occurred_at"))
        )
        frame = pd.DataFrame.from_records(rows, columns=["visitor", "user_id", "micros"])
        frame["step"] = index
        frames.append(frame)
    if not frames:
        return pd.DataFrame({"step": [], "subject": [], "ts": []})
    events = pd.concat(frames, ignore_index=True)
    users, _ = pd.factorize(events["user_id"])  # -1 where the event is anonymous
    visitors, _ = pd.factorize(events["visitor"])
    subject = np.where(users >= 0, users, visitors + users.max(initial=-1) + 1)
    return pd.DataFrame(
        {
            "step": events["step"].to_numpy(dtype=np.int64),
            "subject": subject.astype(np.int64),
            "ts": pd.to_datetime(events["micros"].to_numpy(dtype=np.int64), unit="us", utc=True),
        }
    )


def _naive_utc(times: pd.Series) -> pd.Series:
    """Times as plain UTC datetime64. Tz-aware columns become Python objects on every to_numpy:
    that was 2.5 s of 3.4 s on a million events; plain ones take the whole funnel to 0.8 s."""
    times = pd.to_datetime(times, utc=True)
    return times.dt.tz_localize(None)


def funnel_paths(events: pd.DataFrame, *, steps: int, window: timedelta, strict: list[bool]) -> pd.DataFrame:
    """Each subject's best attempt: columns subject, t0 … t{steps-1} (UTC, NaT where not reached), depth.

    events has columns step (0-based), subject (int) and ts (datetime); strict[k] says step k
    must be strictly later than step k-1 (both name the same event). Vectorised: one
    merge_asof per step, so a million events take a second or two, not a Python loop each.
    """
    columns = [f"t{k}" for k in range(steps)]
    events = events.assign(ts=_naive_utc(events["ts"]))
    first = events.loc[events["step"] == 0, ["subject", "ts"]].sort_values("ts", kind="stable")
    paths = pd.DataFrame({"subject": first["subject"].to_numpy(), "t0": first["ts"].to_numpy()})
    deadline = paths["t0"] + pd.Timedelta(window)
    for k in range(1, steps):
        previous, current = columns[k - 1], columns[k]
        paths[current] = pd.Series(pd.NaT, index=paths.index, dtype=paths["t0"].dtype)
        live = paths.loc[paths[previous].notna(), ["subject", previous]].sort_values(previous, kind="stable")
        candidates = events.loc[events["step"] == k, ["subject", "ts"]].rename(columns={"ts": current})
        candidates = candidates.sort_values(current, kind="stable")
        if live.empty or candidates.empty:
            continue
        matched = pd.merge_asof(
            live,
            candidates,
            left_on=previous,
            right_on=current,
            by="subject",
            direction="forward",
            allow_exact_matches=not strict[k],
        )
        reached = matched[current].to_numpy()
        in_time = matched[current].notna().to_numpy() & (
            matched[current].to_numpy() <= deadline.loc[live.index].to_numpy()
        )
        paths.loc[live.index[in_time], current] = reached[in_time]
    paths["depth"] = paths[columns].notna().sum(axis=1)
    best = paths.sort_values(["subject", "depth", "t0"], ascending=[True, False, True], kind="stable")
    return best.drop_duplicates("subject", keep="first").reset_index(drop=True)


def funnel_summary(paths: pd.DataFrame, *, labels: list[str]) -> list[StepResult]:
    """Entrants, conversions and median step time per step, from the best attempts."""
    results = []
    entrants_first = entrants_previous = None
    for k, label in enumerate(labels):
        reached = paths["depth"] >= k + 1
        entrants = int(reached.sum())
        median = None
        if k and entrants:
            gaps = paths.loc[reached, f"t{k}"] - paths.loc[reached, f"t{k - 1}"]
            median = pd.Timedelta(gaps.median()).to_pytimedelta()
        results.append(
            StepResult(
                position=k + 1,
                label=label,
                entrants=entrants,
                from_previous=entrants / entrants_previous if k and entrants_previous else None,
                from_first=entrants / entrants_first if k and entrants_first else None,
                median_from_previous=median,
            )
        )
        entrants_previous = entrants
        entrants_first = entrants if k == 0 else entrants_first
    return results


def funnel_report(*, funnel: Funnel, start: datetime, end: datetime) -> FunnelReport:
    """The funnel's conversion per step for subjects who started it in [start, end)."""
    steps = list(funnel.steps.order_by("position", "id"))
    events = funnel_events(steps=steps, start=start, end=end, window=funnel.window)
    strict = [False] + [steps[k].event_name == steps[k - 1].event_name for k in range(1, len(steps))]
    paths = funnel_paths(events, steps=len(steps), window=funnel.window, strict=strict)
    return FunnelReport(
        funnel=funnel,
        start=start,
        end=end,
        steps=funnel_summary(paths, labels=[step.label for step in steps]),
    )


def micro_conversions_daily(*, start: datetime, end: datetime) -> pd.DataFrame:
    """Counts per day of the small signs of intent: micro-conversions, video plays, deep scrolls, wishlist adds.

    A DataFrame indexed by day with one column per event name (zeros filled), every day of the range present.
    """
    wanted = Q(name__in=[name for name in MICRO_CONVERSIONS if name != EventName.SCROLL]) | Q(
        name=EventName.SCROLL, properties__percent__gte=DEEP_SCROLL_PERCENT
    )
    rows = (
        Event.objects.filter(wanted, occurred_at__gte=start, occurred_at__lt=end)
        .annotate(day=TruncDate("occurred_at"))
        .values_list("day", "name")
        .order_by()
        .annotate(count=Count("id"))
    )
    frame = pd.DataFrame.from_records(list(rows), columns=["day", "name", "count"])
    days = pd.date_range(timezone.localdate(start), timezone.localdate(end - timedelta(microseconds=1)), freq="D").date
    columns = [str(name) for name in MICRO_CONVERSIONS]
    if frame.empty:
        return pd.DataFrame(0, index=days, columns=columns)
    table = frame.pivot_table(index="day", columns="name", values="count", aggfunc="sum", fill_value=0)
    return table.reindex(index=days, columns=columns, fill_value=0).astype(int)
