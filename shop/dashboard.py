"""The admin index as a dashboard: the day's and the week's traffic, sales and slots, from the apps owning them."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from personalization.selectors import slot_click_through
from shop.catalog.selectors import reviews_awaiting_moderation
from shop.charts import bar_chart, time_series_chart
from shop.orders.selectors import sales_summary, top_products
from shop.templatetags.shop_tags import money
from tracking.selectors import traffic_summary

# "This week" is today and the six days before it: a rolling week compares like with like
# on any weekday, where a calendar week is one day old on Mondays.
WEEK_DAYS = 7
TOP_PRODUCTS = 10


@dataclass(frozen=True)
class Figure:
    label: str
    today: str
    week: str


def _percent(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "–"


def _per_day(start: date, counts: list[tuple[date, int]], *, title: str):
    """A chart with one point per day of the week, zero where nothing happened, at local midnight."""
    seen = dict(counts)
    zone = timezone.get_current_timezone()
    points = [
        (datetime.combine(day, time(), tzinfo=zone), seen.get(day, 0))
        for day in (start + timedelta(days=offset) for offset in range(WEEK_DAYS))
    ]
    return time_series_chart(points, title=title, time_format="%a %d %b", width=560, height=200)


def dashboard(*, now: datetime) -> dict:
    """The dashboard's figures and charts as of now.

    Seven queries whatever the traffic (two for visitors and events, two for orders and revenue,
    one each for click-through, top products and reviews waiting), each bounded to the week.
    """
    local = timezone.localtime(now)
    today_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    week_start = today_start - timedelta(days=WEEK_DAYS - 1)
    traffic = traffic_summary(today_start=today_start, week_start=week_start)
    sales = sales_summary(today_start=today_start, week_start=week_start)
    slots = slot_click_through(since=week_start)
    products = top_products(since=week_start, limit=TOP_PRODUCTS)
    figures = [
        Figure("Visitors", f"{traffic.visitors_today:,}", f"{traffic.visitors_week:,}"),
        Figure("Events", f"{traffic.events_today:,}", f"{traffic.events_week:,}"),
        Figure("Orders", f"{sales.orders_today:,}", f"{sales.orders_week:,}"),
        Figure("Revenue", money(sales.revenue_today), money(sales.revenue_week)),
        Figure(
            "Conversion (orders per visitor)",
            _percent(sales.orders_today, traffic.visitors_today),
            _percent(sales.orders_week, traffic.visitors_week),
        ),
    ]
    first_day = week_start.date()
    return {
        "figures": figures,
        "week_start": week_start,
        "reviews_waiting": reviews_awaiting_moderation(),
        "slots": slots,
        "products": products,
        "visitors_chart": _per_day(first_day, traffic.visitors_by_day, title="Visitors per day, last 7 days"),
        "orders_chart": _per_day(first_day, sales.orders_by_day, title="Orders per day, last 7 days"),
        "slots_chart": bar_chart(
            [(row.slot, row.ctr * 100) for row in slots],
            title="Click-through by slot, last 7 days",
            value_format="{:.1f}%",
            width=560,
        ),
        "products_chart": bar_chart(
            [(row.title, row.units) for row in products],
            title="Top products by units sold, last 7 days",
            width=560,
        ),
    }
