"""Data quality of the event record: rejected events, hourly ingest counters, client clock skew."""

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pandas as pd
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from redis.exceptions import RedisError

from shop import keyspace

from ..hooks import StoredBatch
from ..models import Event, IngestStat, RejectedEvent

logger = logging.getLogger(__name__)

INGEST_COUNTERS = ("accepted", "duplicates", "rejected")
# Counters outlive the flush window, so a worker down for a day loses nothing and keys still expire.
INGEST_STATS_TTL = timedelta(days=3)
FLUSH_HOURS = 48
# Percentiles of skew come from at most this many corrected events (the latest): 200k rows
# read and summarised in about a second on the dev box; beyond it the percentiles barely move.
SKEW_SAMPLE = 200_000
SKEW_BUCKETS = (
    (timedelta(seconds=10), "2–10 s"),
    (timedelta(minutes=1), "10 s–1 min"),
    (timedelta(minutes=10), "1–10 min"),
    (timedelta(hours=1), "10 min–1 h"),
    (timedelta(days=1), "1 h–1 day"),
    (None, "over a day"),
)


def hour_floor(moment: datetime) -> datetime:
    """The start of moment's hour, in UTC: hours are the unit of ingest counters and volume checks."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class IngestCounters:
    """The first ingest hook: each call's stored, duplicate and rejected counts added to this
    hour's counters in Redis, per source.

    Stored rows say what was accepted, but only the ingest knows what it received, so
    duplicates survive nowhere else. HINCRBYs are atomic across web processes; volume_check
    copies them to IngestStat. A lost count only blurs the duplicate rate.
    """

    def batch_stored(self, batch: StoredBatch, *, redis: keyspace.RedisBatch) -> None:
        counts = {"accepted": len(batch.events), "duplicates": batch.duplicates, "rejected": batch.rejected}
        if not any(counts.values()):
            return
        key = keyspace.ingest_stats_key(hour_floor(batch.received_at))
        for counter, amount in counts.items():
            if amount:
                redis.pipe.hincrby(key, f"{batch.source}:{counter}", amount)
        redis.pipe.expire(key, int(INGEST_STATS_TTL.total_seconds()))


def ingest_stats_flush(*, now: datetime | None = None, hours: int = FLUSH_HOURS) -> int:
    """Copy the last hours' Redis counters into IngestStat rows; returns how many rows were written.

    The counters are totals, so writing them again sets the same numbers: rerunning, or two
    workers at once, cannot double count. The current hour is written as it stands so far.
    """
    current = hour_floor(now or timezone.now())
    wanted = [current - timedelta(hours=back) for back in range(hours + 1)]
    try:
        pipe = keyspace.redis_client().pipeline(transaction=False)
        for hour in wanted:
            pipe.hgetall(keyspace.ingest_stats_key(hour))
        hashes = pipe.execute()
    except (RedisError, OSError):
        # The counters keep for days in Redis; the next hourly run copies them.
        logger.warning("ingest counters not flushed", exc_info=True)
        return 0
    rows: dict[tuple[datetime, str], IngestStat] = {}
    for hour, counters in zip(wanted, hashes, strict=True):
        for raw_field, raw_value in counters.items():
            source, _, counter = _text(raw_field).partition(":")
            if counter not in INGEST_COUNTERS:
                continue
            stat = rows.setdefault((hour, source), IngestStat(hour=hour, source=source))
            setattr(stat, counter, int(raw_value))
    IngestStat.objects.bulk_create(
        rows.values(), update_conflicts=True, unique_fields=["hour", "source"], update_fields=list(INGEST_COUNTERS)
    )
    return len(rows)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def ingest_daily(*, start: datetime, end: datetime) -> list[dict]:
    """Per day: events received, stored, duplicated and rejected, from the flushed counters."""
    rows = (
        IngestStat.objects.filter(hour__gte=start, hour__lt=end)
        .annotate(day=TruncDate("hour"))
        .values("day")
        .order_by("day")
        .annotate(accepted=Sum("accepted"), duplicates=Sum("duplicates"), rejected=Sum("rejected"))
    )
    days = []
    for row in rows:
        received = row["accepted"] + row["duplicates"] + row["rejected"]
        days.append(
            {
                **row,
                "received": received,
                "duplicate_share": row["duplicates"] / received if received else None,
                "rejected_share": row["rejected"] / received if received else None,
            }
        )
    return days


def rejected_by_reason(*, start: datetime, end: datetime) -> list[tuple[str, int]]:
    """How many events were refused for each reason, most common first."""
    rows = (
        RejectedEvent.objects.filter(received_at__gte=start, received_at__lt=end)
        .values_list("reason")
        .order_by()
        .annotate(count=Count("id"))
    )
    return sorted(((reason, count) for reason, count in rows), key=lambda row: (-row[1], row[0]))


@dataclass(frozen=True)
class SkewReport:
    """How far clients' clocks were off, from occurred_at (corrected) minus client_ts (as sent)."""

    events: int
    corrected: int
    sample: int
    median: timedelta | None
    p95: timedelta | None
    largest: timedelta | None
    behind: int  # clock slow: the ingest moved the event later
    ahead: int  # clock fast: moved earlier
    buckets: list[tuple[str, int]] = field(default_factory=list)

    @property
    def share(self) -> float | None:
        return self.corrected / self.events if self.events else None

    @property
    def sampled(self) -> bool:
        return self.sample < self.corrected


def clock_skew_report(*, start: datetime, end: datetime) -> SkewReport:
    """Share of events whose time was corrected for the client's clock, and how large the corrections were.

    The ingest leaves skews under two seconds alone (network delay), so every nonzero
    difference is a correction. Percentiles come from the latest SKEW_SAMPLE corrections.
    """
    events = Event.objects.filter(occurred_at__gte=start, occurred_at__lt=end).order_by()
    corrected_filter = ~Q(occurred_at=F("client_ts"))
    totals = events.aggregate(events=Count("id"), corrected=Count("id", filter=corrected_filter))
    rows = list(events.filter(corrected_filter).order_by("-id").values_list("occurred_at", "client_ts")[:SKEW_SAMPLE])
    if not rows:
        return SkewReport(
            events=totals["events"],
            corrected=totals["corrected"],
            sample=0,
            median=None,
            p95=None,
            largest=None,
            behind=0,
            ahead=0,
        )
    frame = pd.DataFrame.from_records(rows, columns=["occurred_at", "client_ts"])
    skew = pd.to_datetime(frame["occurred_at"], utc=True) - pd.to_datetime(frame["client_ts"], utc=True)
    size = skew.abs()
    edges = [pd.Timedelta(0)] + [pd.Timedelta(limit) for limit, _ in SKEW_BUCKETS[:-1]] + [pd.Timedelta.max]
    binned = pd.cut(size, bins=edges, labels=[label for _, label in SKEW_BUCKETS], right=False)
    counts = binned.value_counts(sort=False)
    return SkewReport(
        events=totals["events"],
        corrected=totals["corrected"],
        sample=len(rows),
        median=pd.Timedelta(size.median()).to_pytimedelta(),
        p95=pd.Timedelta(size.quantile(0.95)).to_pytimedelta(),
        largest=pd.Timedelta(size.max()).to_pytimedelta(),
        behind=int((skew > pd.Timedelta(0)).sum()),
        ahead=int((skew < pd.Timedelta(0)).sum()),
        buckets=[(label, int(counts[label])) for _, label in SKEW_BUCKETS],
    )
