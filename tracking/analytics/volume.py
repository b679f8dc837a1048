"""Hourly event volume against its usual level: drops and spikes become VolumeAlert rows.

The usual level of an hour is the median of the same hour on each of the previous seven
days (traffic has a daily rhythm, so yesterday at 14:00 says more about 14:00 than 03:00
does). The spread is the median absolute deviation of those seven, scaled to a standard
deviation, and never taken below the Poisson noise of the difference times how bursty the
event has been over the last few days, so a quiet hour with seven identical values does
not alarm at +1 and a page view that comes in sessions of five does not alarm at +10.
An hour is flagged when it is more than Z_THRESHOLD such deviations away, changed by at
least MIN_CHANGE of the usual level, and either it or the usual level reaches MIN_VOLUME.
"""

import logging
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from django.db.models import Count
from django.db.models.functions import TruncHour
from django.utils import timezone

from ..models import Event, VolumeAlert
from ..registry import EventName
from .quality import hour_floor

logger = logging.getLogger(__name__)

BASELINE_DAYS = 7
# 1.4826 × MAD estimates a standard deviation for normal noise.
MAD_SCALE = 1.4826
# Measured on 200 synthetic weeks per case, Poisson sessions of 1–7 events with a daily rhythm:
# at 3, 8–61 false alerts in 200 weeks per event name; at 4, 0–3 in 200 weeks at 20–2,000 events
# an hour. A drop to 10 % is then caught 77–100 % of the time from 100 an hour up, and a 5×
# spike 80–100 % of the time from 30 an hour up.
Z_THRESHOLD = 4.0
# A merchandiser acts on "halved" or "half again", not on a significant 8 % at high volume.
MIN_CHANGE = 0.5
# Below this many events an hour (observed and expected both), counts are too small to judge.
MIN_VOLUME = 20
# Hours of residuals that measure how bursty an event is; a day of them at least before judging.
DISPERSION_HOURS = 72
DISPERSION_MIN_HOURS = 24
# Each run re-checks the last hours too, so a missed beat run is caught up; alerts are unique per hour.
CHECK_HOURS = 3


def volume_judge(counts: pd.Series) -> pd.DataFrame:
    """Judge every hour of an hourly count series against the same hour of the days before.

    counts is indexed by hour (missing hours are filled with zero) and must start where the
    event's history starts: an hour is judged only when all BASELINE_DAYS earlier days are in
    the series. Returns, per hour: observed, expected (NaN when not judged), sigma, z and
    kind ("drop", "spike" or "").
    """
    counts = counts.sort_index().asfreq("h", fill_value=0).astype(float)
    lags = pd.concat([counts.shift(24 * day) for day in range(1, BASELINE_DAYS + 1)], axis=1)
    expected = lags.median(axis=1, skipna=False)
    spread = lags.sub(expected, axis=0).abs().median(axis=1, skipna=False) * MAD_SCALE
    # Poisson noise of the difference: the observed count's own, plus the median-of-seven's
    # (about pi / (2 * 7) of it), at a rate halfway between the two, so a low median does not
    # shrink the yardstick it is measured with.
    poisson = np.sqrt((1 + np.pi / (2 * BASELINE_DAYS)) * (counts + expected) / 2).clip(lower=1.0)
    # Events come in sessions, so counts vary more than Poisson: a session of five page views
    # moves the count by five. How much more is read from the trailing hours' residuals (a
    # median over DISPERSION_HOURS is steady where seven same-hour values are not).
    residual = ((counts - expected) / poisson).abs()
    dispersion = residual.rolling(DISPERSION_HOURS, min_periods=DISPERSION_MIN_HOURS).median().shift(1) * MAD_SCALE
    sigma = np.maximum(spread, poisson * dispersion.clip(lower=1.0))
    z = (counts - expected) / sigma
    judged = expected.notna() & dispersion.notna() & (np.maximum(counts, expected) >= MIN_VOLUME)
    spike = judged & (z > Z_THRESHOLD) & (counts >= expected * (1 + MIN_CHANGE))
    drop = judged & (z < -Z_THRESHOLD) & (counts <= expected * (1 - MIN_CHANGE))
    kind = np.select([spike.to_numpy(), drop.to_numpy()], [VolumeAlert.Kind.SPIKE, VolumeAlert.Kind.DROP], default="")
    return pd.DataFrame(
        {"observed": counts, "expected": expected, "sigma": sigma, "z": z, "kind": np.where(judged, kind, "")},
        index=counts.index,
    )


def volume_hourly(*, names: list[str], start: datetime, end: datetime) -> dict[str, pd.Series]:
    """Hourly counts per event name over [start, end), zeros filled, each from where its history starts.

    One grouped query over the (name, occurred_at) index. A name seen before start gets the
    whole range; a newer one starts at its first hour, so its first week is not judged
    against zeros from before it existed.
    """
    rows = (
        Event.objects.filter(name__in=names, occurred_at__gte=start, occurred_at__lt=end)
        .annotate(hour=TruncHour("occurred_at", tzinfo=UTC))
        .values_list("name", "hour")
        .order_by()
        .annotate(count=Count("id"))
    )
    frame = pd.DataFrame.from_records(list(rows), columns=["name", "hour", "count"])
    series = {}
    last_hour = pd.Timestamp(hour_floor(end - timedelta(microseconds=1)))
    for name, group in frame.groupby("name"):
        counts = group.set_index(pd.to_datetime(group["hour"], utc=True))["count"]
        older = Event.objects.filter(name=name, occurred_at__lt=start).exists()
        first_hour = pd.Timestamp(hour_floor(start)) if older else counts.index.min()
        hours = pd.date_range(first_hour, last_hour, freq="h")
        series[str(name)] = counts.groupby(level=0).sum().reindex(hours, fill_value=0)
    return series


def volume_alerts_check(*, now: datetime | None = None, hours: int = CHECK_HOURS) -> list[VolumeAlert]:
    """Flag the last complete hours whose volume dropped or spiked; returns the alerts newly made.

    Idempotent: an hour and event already alerted are left as they are (acknowledged or not).
    """
    last = hour_floor(now or timezone.now()) - timedelta(hours=1)
    checked = [last - timedelta(hours=back) for back in range(hours)]
    start = checked[-1] - timedelta(days=BASELINE_DAYS, hours=DISPERSION_HOURS)
    series = volume_hourly(names=list(EventName.values), start=start, end=last + timedelta(hours=1))
    found = []
    for name, counts in series.items():
        judged = volume_judge(counts)
        for hour in checked:
            stamp = pd.Timestamp(hour)
            if stamp not in judged.index or not judged.at[stamp, "kind"]:
                continue
            row = judged.loc[stamp]
            found.append(
                VolumeAlert(
                    hour=hour,
                    name=name,
                    kind=row["kind"],
                    observed=int(row["observed"]),
                    expected=round(float(row["expected"]), 2),
                    score=round(float(row["z"]), 2),
                )
            )
    existing = set(VolumeAlert.objects.filter(hour__in=checked).values_list("hour", "name"))
    new = [alert for alert in found if (alert.hour, alert.name) not in existing]
    # A run racing this one may insert the same hour first; the unique constraint keeps one.
    VolumeAlert.objects.bulk_create(new, ignore_conflicts=True)
    for alert in new:
        logger.warning(
            "event volume %s: %s at %s, observed %s against an expected %.1f (z %.1f)",
            alert.kind,
            alert.name,
            alert.hour.isoformat(),
            alert.observed,
            alert.expected,
            alert.score,
        )
    return new


def volume_series(
    *, name: str, start: datetime, end: datetime
) -> tuple[list[tuple[datetime, float]], list[tuple[datetime, float | None]]]:
    """One event's hourly counts over [start, end) and the expected level of each hour, for a chart."""
    history = timedelta(days=BASELINE_DAYS, hours=DISPERSION_HOURS)
    counts = volume_hourly(names=[name], start=start - history, end=end).get(name)
    if counts is None:
        return [], []
    judged = volume_judge(counts)
    judged = judged[judged.index >= pd.Timestamp(hour_floor(start))]
    points = [(stamp.to_pydatetime(), float(value)) for stamp, value in judged["observed"].items()]
    expected = [
        (stamp.to_pydatetime(), None if pd.isna(value) else float(value)) for stamp, value in judged["expected"].items()
    ]
    return points, expected
