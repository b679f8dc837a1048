"""Reads for merchandisers: how each slot and algorithm performs, and whether a slot's settings can serve."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count
from django.utils import timezone

from tracking.models import Event

from .models import ModelVersion
from .recommenders.hybrid import PARTS
from .slots import RECENT


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


def slot_settings_problem(*, algorithm: str, weights: dict[str, float]) -> str:
    """Why a slot set to this algorithm (and these hybrid weights) would show nothing of its own,
    or "" when it would serve: an algorithm with no trained version, a blend with every weight at
    zero, or a blend none of whose weighted parts is trained."""
    if algorithm == RECENT:
        return ""
    trained = set(ModelVersion.objects.filter(is_active=True).values_list("name", flat=True))
    if algorithm != "hybrid":
        if algorithm in trained:
            return ""
        return (
            f"“{algorithm}” has no trained version yet, so this slot would show only fallback items:"
            f" train it first (manage.py retrain --model {algorithm}) or choose another algorithm."
        )
    weighted = [part for part, weight in weights.items() if weight > 0]
    if not weighted:
        return "Give at least one of the hybrid blend's weights a value above zero: with all at zero it blends nothing."
    if not any(PARTS[part] in trained for part in weighted if part in PARTS):
        names = ", ".join(PARTS[part] for part in weighted if part in PARTS)
        return f"None of the blend's weighted parts ({names}) has a trained version yet: train one first."
    return ""


def serving_quality() -> list[tuple[str, float]]:
    """Each serving version's NDCG@10 on its own held-out shoppers, best first (measured ones only)."""
    rows = [
        (f"{name} v{pk} ({quality['users']:,} shoppers)", quality["metrics"]["ndcg@10"])
        for name, pk, quality in ModelVersion.objects.filter(is_active=True).values_list("name", "pk", "quality")
        if quality.get("status") == "measured"
    ]
    return sorted(rows, key=lambda row: (-row[1], row[0]))
