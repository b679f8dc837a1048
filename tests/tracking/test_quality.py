"""Data quality: rejections by reason, ingest counters, clock skew, volume anomalies and the hourly check."""

import logging
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError

from shop import keyspace
from tests.factories.tracking import EventFactory, RawEventFactory, RejectedEventFactory
from tracking import tasks
from tracking.analytics import quality, volume
from tracking.models import Event, IngestStat, VolumeAlert
from tracking.services import event_ingest

pytestmark = pytest.mark.django_db

HOUR = datetime(2026, 3, 10, 14, tzinfo=UTC)


def test_rejected_events_are_counted_per_reason_within_the_period():
    RejectedEventFactory.create_batch(3, reason="unknown_event")
    RejectedEventFactory(reason="bad_type")
    old = RejectedEventFactory(reason="too_old")
    old.received_at = timezone.now() - timedelta(days=40)
    old.save(update_fields=["received_at"])
    now = timezone.now()
    counts = quality.rejected_by_reason(start=now - timedelta(days=30), end=now + timedelta(minutes=1))
    assert counts == [("unknown_event", 3), ("bad_type", 1)]


def _ingest_at(moment: datetime, events: list[dict], *, source: str = "web", visitor=None):
    """Ingest as if the batch arrived at moment, its events made a second before."""
    for event in events:
        event["ts"] = int((moment - timedelta(seconds=1)).timestamp() * 1000)
    return event_ingest(events=events, visitor_id=visitor or uuid.uuid4(), source=source, received_at=moment)


def test_ingest_counters_reach_the_table_once_however_often_they_are_flushed():
    visitor = uuid.uuid4()
    batch = RawEventFactory.build_batch(3)
    for raw in (batch, batch, [RawEventFactory(name="teleport")]):
        _ingest_at(HOUR + timedelta(minutes=5), raw, visitor=visitor)
    _ingest_at(
        HOUR + timedelta(minutes=50), [RawEventFactory(name="login", props={}) for _ in range(2)], source="server"
    )
    _ingest_at(HOUR + timedelta(hours=1), [RawEventFactory()])
    for _ in range(2):
        quality.ingest_stats_flush(now=HOUR + timedelta(hours=1, minutes=7))
    web = IngestStat.objects.get(hour=HOUR, source="web")
    assert (web.accepted, web.duplicates, web.rejected, web.received) == (3, 3, 1, 7)
    assert IngestStat.objects.get(hour=HOUR, source="server").accepted == 2
    assert IngestStat.objects.get(hour=HOUR + timedelta(hours=1), source="web").accepted == 1
    assert IngestStat.objects.count() == 3


def test_ingest_counters_expire_in_redis():
    _ingest_at(HOUR, [RawEventFactory()])
    ttl = keyspace.redis_client().ttl(keyspace.ingest_stats_key(HOUR))
    assert 0 < ttl <= quality.INGEST_STATS_TTL.total_seconds()


def test_a_redis_outage_loses_counts_but_never_fails_the_ingest(monkeypatch, caplog):
    class Down:
        def pipeline(self, **kwargs):
            raise RedisConnectionError("redis is away")

    monkeypatch.setattr(keyspace, "redis_client", Down)
    with caplog.at_level(logging.WARNING):
        assert _ingest_at(HOUR, [RawEventFactory()]).accepted == 1
        assert quality.ingest_stats_flush(now=HOUR) == 0
    assert "not sent" in caplog.text and "not flushed" in caplog.text
    assert Event.objects.count() == 1


def test_daily_ingest_summary_adds_up_hours_and_sources():
    IngestStat.objects.create(hour=HOUR, source="web", accepted=90, duplicates=8, rejected=2)
    IngestStat.objects.create(hour=HOUR + timedelta(hours=1), source="server", accepted=10)
    (day,) = quality.ingest_daily(start=HOUR - timedelta(hours=14), end=HOUR + timedelta(hours=10))
    assert (day["received"], day["accepted"], day["duplicates"], day["rejected"]) == (110, 100, 8, 2)
    assert day["duplicate_share"] == pytest.approx(8 / 110)


def test_clock_skew_report_measures_the_corrections_the_ingest_made():
    now = timezone.now()
    for _ in range(6):
        EventFactory(client_ts=now)  # a good clock: left as sent
    corrections = [timedelta(minutes=10), timedelta(minutes=20), -timedelta(hours=2), timedelta(seconds=5)]
    for correction in corrections:
        EventFactory(client_ts=now - correction, occurred_at=now)
    report = quality.clock_skew_report(start=now - timedelta(days=1), end=now + timedelta(days=1))
    assert (report.events, report.corrected) == (10, 4)
    assert report.share == pytest.approx(0.4)
    assert report.median == timedelta(minutes=15)
    assert report.largest == timedelta(hours=2)
    assert timedelta(minutes=20) < report.p95 < timedelta(hours=2)
    assert (report.behind, report.ahead) == (3, 1)
    assert dict(report.buckets) == {
        "2–10 s": 1,
        "10 s–1 min": 0,
        "1–10 min": 0,
        "10 min–1 h": 2,
        "1 h–1 day": 1,
        "over a day": 0,
    }


def test_clock_skew_report_of_an_empty_period():
    now = timezone.now()
    report = quality.clock_skew_report(start=now - timedelta(days=1), end=now)
    assert (report.events, report.corrected, report.share, report.median) == (0, 0, None, None)


# Volume anomalies on synthetic series: two weeks of Poisson traffic with a daily rhythm.
def synthetic(level: float, *, seed: int, days: int = 14) -> pd.Series:
    rng = np.random.default_rng(seed)
    hours = pd.date_range("2026-01-05", periods=24 * days, freq="h", tz="UTC")
    rhythm = 0.5 + np.sin(np.pi * hours.hour.to_numpy() / 24) ** 2
    return pd.Series(rng.poisson(level * rhythm), index=hours)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("level", [30, 200, 5000])
def test_normal_noise_raises_no_alert(level, seed):
    judged = volume.volume_judge(synthetic(level, seed=seed))
    assert judged["sigma"].notna().sum() >= 24 * 6  # most of the second week is judged
    assert (judged["kind"] == "").all()


@pytest.mark.parametrize("level", [30, 200, 5000])
def test_a_drop_to_a_tenth_is_flagged(level):
    counts = synthetic(level, seed=1)
    hour = counts.index[-10]  # 14:00, a busy hour
    counts[hour] = round(counts[hour] * 0.1)
    judged = volume.volume_judge(counts)
    assert judged.loc[hour, "kind"] == "drop"
    assert judged.loc[hour, "expected"] > judged.loc[hour, "observed"] * 5
    assert (judged.drop(hour)["kind"] == "").all()


@pytest.mark.parametrize("level", [30, 200, 5000])
def test_a_fivefold_spike_is_flagged(level):
    counts = synthetic(level, seed=2)
    hour = counts.index[-10]
    counts[hour] = counts[hour] * 5
    judged = volume.volume_judge(counts)
    assert judged.loc[hour, "kind"] == "spike"
    assert (judged.drop(hour)["kind"] == "").all()


def test_tiny_counts_never_alarm():
    counts = synthetic(2, seed=3)
    counts.iloc[-10] = 12  # six times the usual, but a dozen events
    counts.iloc[-5] = 0
    assert (volume.volume_judge(counts)["kind"] == "").all()


def test_hours_without_a_full_week_and_a_day_before_them_are_not_judged():
    counts = synthetic(100, seed=4, days=8)
    counts.iloc[-1] = 0
    judged = volume.volume_judge(counts)
    assert judged["expected"].iloc[: 24 * 7].isna().all()
    assert (judged["kind"] == "").all()  # the first day with a baseline only measures the noise


def hourly_events(name: str, hour: datetime, count: int) -> None:
    Event.objects.bulk_create(
        EventFactory.build(name=name, client_ts=hour + timedelta(seconds=index)) for index in range(count)
    )


@pytest.fixture
def page_views_collapse():
    """Ten days of 40 page views at one hour of the day, then 2 at that hour: the tracker broke.

    A week makes the baseline; the days before it let the check measure how bursty the event is.
    """
    checked = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    for day in range(1, 11):
        hourly_events("page_view", checked - timedelta(days=day), 40)
    hourly_events("page_view", checked, 2)
    return checked


def test_volume_check_saves_and_logs_a_drop_once(page_views_collapse, caplog):
    checked = page_views_collapse
    with caplog.at_level(logging.WARNING, logger="tracking.analytics.volume"):
        first = tasks.volume_check()
        second = tasks.volume_check()
    alert = VolumeAlert.objects.get()
    assert (alert.hour, alert.name, alert.kind, alert.observed, alert.expected) == (
        checked,
        "page_view",
        "drop",
        2,
        40.0,
    )
    assert len(first["alerts"]) == 1 and second["alerts"] == []
    assert caplog.text.count("event volume drop: page_view") == 1


def test_volume_check_leaves_an_acknowledged_alert_as_it_is(page_views_collapse):
    volume.volume_alerts_check()
    VolumeAlert.objects.update(acknowledged=True)
    assert volume.volume_alerts_check() == []
    assert VolumeAlert.objects.get().acknowledged


def test_a_new_event_is_not_judged_against_the_days_before_it_existed():
    checked = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    hourly_events("search", checked - timedelta(days=1), 30)
    hourly_events("search", checked, 300)
    assert volume.volume_alerts_check() == []


def test_volume_series_gives_counts_and_expected_levels_for_a_chart(page_views_collapse):
    checked = page_views_collapse
    points, expected = volume.volume_series(
        name="page_view", start=checked - timedelta(hours=2), end=checked + timedelta(hours=1)
    )
    assert [value for _, value in points] == [0, 0, 2]
    assert expected[-1] == (checked, 40.0)
