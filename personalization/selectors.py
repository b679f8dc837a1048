"""Reads for merchandisers: how each slot and algorithm performs."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count
from django.utils import timezone

from tracking.models import Event


@dataclass(frozen=True)
class SlotPerformance:
    slot: str
    algorithm: str
    impressions: int
    clicks: int

    @property
    def ctr(self) -> float:
        return self.clicks / self.impressions if self.impressions else 0.0


def slot_performance(*, days: int = 30, since: datetime | None = None) -> list[SlotPerformance]:
    """Impressions and clicks of recommended items per slot and algorithm, from the event record,
    over the last `days` or since a moment."""
    since = since or timezone.now() - timedelta(days=days)
    rows = (
        Event.objects.filter(name__in=("impression", "select_item"), occurred_at__gte=since, properties__has_key="slot")
        .values("properties__slot", "properties__algorithm", "name")
        .annotate(n=Count("id"))
    )
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for row in rows:
        key = (str(row["properties__slot"]), str(row["properties__algorithm"] or "?"))
        counts.setdefault(key, {})[row["name"]] = row["n"]
    return sorted(
        (
            SlotPerformance(
                slot=slot, algorithm=algorithm, impressions=n.get("impression", 0), clicks=n.get("select_item", 0)
            )
            for (slot, algorithm), n in counts.items()
        ),
        key=lambda row: (row.slot, -row.impressions),
    )


def slot_click_through(*, since: datetime) -> list[SlotPerformance]:
    """slot_performance summed over each slot's algorithms: one row per slot, most seen first."""
    totals: dict[str, list[int]] = {}
    for row in slot_performance(since=since):
        seen = totals.setdefault(row.slot, [0, 0])
        seen[0] += row.impressions
        seen[1] += row.clicks
    rows = [SlotPerformance(slot=slot, algorithm="all", impressions=n[0], clicks=n[1]) for slot, n in totals.items()]
    return sorted(rows, key=lambda row: (-row.impressions, row.slot))
