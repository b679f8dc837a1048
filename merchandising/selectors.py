"""Reads of merchandising: what a rule earned (showings, clicks, orders after a click) day by day."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Q
from django.db.models.functions import TruncDay
from django.utils import timezone

from tracking.models import Event
from tracking.owners import owner_key

from .models import Rule

# An order counts for a rule when its shopper clicked the rule's block or offer in the day before.
ATTRIBUTION_WINDOW = timedelta(days=1)


@dataclass
class RuleReport:
    days: list[datetime] = field(default_factory=list)
    fired: dict[datetime, int] = field(default_factory=dict)
    shown: dict[datetime, int] = field(default_factory=dict)
    clicked: dict[datetime, int] = field(default_factory=dict)
    orders: int = 0
    revenue: Decimal = Decimal("0.00")

    @property
    def shown_total(self) -> int:
        return sum(self.shown.values())

    @property
    def click_through_percent(self) -> float | None:
        return 100 * sum(self.clicked.values()) / self.shown_total if self.shown_total else None


def _daily(queryset) -> dict[datetime, int]:
    rows = queryset.annotate(day=TruncDay("occurred_at")).values("day").annotate(n=Count("id"))
    return {row["day"]: row["n"] for row in rows}


def rule_report(*, rule: Rule, days: int = 14, now: datetime | None = None) -> RuleReport:
    now = now or timezone.now()
    since = (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    promotion = f"rule:{rule.pk}"
    promoted = Event.objects.filter(occurred_at__gte=since, properties__promotion_id=promotion)
    report = RuleReport(
        days=[since + timedelta(days=offset) for offset in range(days + 1)],
        shown=_daily(promoted.filter(name="view_promotion")),
        clicked=_daily(promoted.filter(name="select_promotion")),
    )
    fired = rule.firings.filter(fired_at__gte=since).annotate(day=TruncDay("fired_at")).values("day")
    report.fired = {row["day"]: row["n"] for row in fired.annotate(n=Count("id"))}
    clicks: dict[str, list[datetime]] = defaultdict(list)
    users, visitors = set(), set()
    for user_id, visitor_id, at in promoted.filter(name="select_promotion").values_list(
        "user_id", "visitor_id", "occurred_at"
    ):
        clicks[owner_key(user_id=user_id, visitor_id=visitor_id)].append(at)
        if user_id is not None:
            users.add(user_id)
        else:
            visitors.add(visitor_id)
    if clicks:
        purchases = (
            Event.objects.filter(name="purchase", occurred_at__gte=since)
            .filter(Q(user_id__in=users) | Q(user_id__isnull=True, visitor_id__in=visitors))
            .values_list("user_id", "visitor_id", "occurred_at", "properties")
        )
        for user_id, visitor_id, at, properties in purchases.iterator():
            times = clicks.get(owner_key(user_id=user_id, visitor_id=visitor_id))
            if times and any(click <= at <= click + ATTRIBUTION_WINDOW for click in times):
                report.orders += 1
                report.revenue += Decimal(str(properties.get("value", 0)))
    return report
