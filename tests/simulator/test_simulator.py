"""The shopper simulator: valid, coherent events, personas that differ as promised, storage, profiles, HTTP."""

import http.server
import itertools
import json
import statistics
import threading
from collections import Counter, defaultdict
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from personalization.profiles import profile_owner, profile_read
from shop.simulator.catalog import catalog_snapshot_load
from shop.simulator.engine import SESSION_GAP, visitor_simulate
from shop.simulator.personas import PERSONAS
from shop.simulator.services import shoppers_simulate, shoppers_simulate_http, window_end
from shop.simulator.sinks import HttpSink, url_check
from tests.factories.accounts import UserFactory
from tests.factories.catalog import simulator_catalog_build as build_catalog
from tracking.models import Event, VisitorLink
from tracking.registry import EventName, Source
from tracking.validation import event_validate

# What the store-side generators treat as browser events; everything else is the server's.
SERVER_EVENTS = {"add_to_cart", "remove_from_cart", "begin_checkout", "purchase", "login"}


@pytest.fixture
def catalog(db):
    build_catalog()
    return catalog_snapshot_load()


def simulate(catalog, visitors: int, *, seed: int = 1, login_as=None):
    end = window_end()
    return [
        visitor_simulate(seed=seed, index=i, catalog=catalog, end=end, days=6, login_as=login_as)
        for i in range(visitors)
    ]


def test_every_generated_event_passes_validation_with_the_source_the_shop_uses(catalog):
    received = timezone.now()
    visitors = simulate(catalog, 60, login_as="shopper1")
    names = Counter()
    for visitor in visitors:
        for event in visitor.events:
            event_validate(event.raw, received_at=received, skew=timedelta(0), source=event.source)
            assert event.source == (Source.SERVER if event.name in SERVER_EVENTS else Source.WEB)
            names[event.name] += 1
    # Every kind of behaviour shows up somewhere in sixty visitors.
    for name in (
        "page_view",
        "view_item_list",
        "impression",
        "select_item",
        "view_item",
        "scroll",
        "search",
        "add_to_wishlist",
        "add_to_cart",
        "remove_from_cart",
        "view_cart",
        "begin_checkout",
        "purchase",
        "login",
    ):
        assert names[name] > 0, name


def test_sessions_are_coherent_journeys(catalog):
    end = window_end()
    for visitor in simulate(catalog, 60):
        cart: Counter = Counter()
        previous_end = None
        for session in visitor.sessions:
            started = session.started_ms
            if previous_end is not None:
                assert started - previous_end > SESSION_GAP.total_seconds() * 1000
            assert session.ended_ms <= end.timestamp() * 1000
            assert started >= (end - timedelta(days=6)).timestamp() * 1000
            times = [event.raw["ts"] for event in session.events]
            assert times == sorted(times)
            assert max(b - a for a, b in itertools.pairwise(times)) < 30 * 60 * 1000
            viewed, added, checkout = set(), False, False
            for event in session.events:
                product = event.raw.get("product_id")
                if product is not None:
                    assert product in catalog.by_id
                if event.name == "view_item":
                    viewed.add(product)
                elif event.name == "add_to_cart":
                    assert product in viewed, "added to the cart without viewing it first"
                    cart[product] += event.raw["props"]["quantity"]
                    added = True
                elif event.name == "remove_from_cart":
                    assert cart[product] >= event.raw["props"]["quantity"]
                    cart[product] -= event.raw["props"]["quantity"]
                elif event.name == "begin_checkout":
                    assert added
                    checkout = True
                elif event.name == "purchase":
                    assert added and checkout, "a purchase without cart and checkout in the same session"
                    props = event.raw["props"]
                    items = {int(item["item_id"]): item for item in props["items"]}
                    assert items and {pid: item["quantity"] for pid, item in items.items()} == +cart
                    assert props["value"] == pytest.approx(
                        sum(item["price"] * item["quantity"] for item in items.values()), abs=0.01
                    )
                    assert props["transaction_id"] and props["currency"] == "GBP"
                    cart.clear()
            previous_end = session.ended_ms


def test_personas_behave_as_described(catalog):
    by_persona: dict[str, Counter] = defaultdict(Counter)
    prices: dict[str, list[float]] = defaultdict(list)
    brand_share: dict[str, list[float]] = defaultdict(list)
    for visitor in simulate(catalog, 180, seed=3):
        key, counts = visitor.persona.key, by_persona[visitor.persona.key]
        counts.update(event.name for event in visitor.events)
        counts["sessions"] += len(visitor.sessions)
        viewed = [catalog.by_id[e.raw["product_id"]] for e in visitor.events if e.name == "view_item"]
        prices[key].extend(product.price for product in viewed)
        if len(viewed) >= 3:
            top_two = sum(n for _, n in Counter(p.brand_id for p in viewed).most_common(2))
            brand_share[key].append(top_two / len(viewed))

    def rate(key, name, per="view_item"):
        return by_persona[key][name] / by_persona[key][per]

    assert statistics.mean(prices["bargain_hunter"]) < 0.6 * statistics.mean(prices["brand_loyalist"])
    assert statistics.mean(brand_share["brand_loyalist"]) > 0.8
    assert statistics.mean(brand_share["window_shopper"]) < 0.6
    assert rate("window_shopper", "add_to_cart") < rate("mission_shopper", "add_to_cart") / 10
    views_per_visit = {
        key: counts["view_item"] / max(1, counts["page_view"] - counts["view_item"])
        for key, counts in by_persona.items()
    }
    assert views_per_visit["window_shopper"] > views_per_visit["mission_shopper"]
    # Bargain hunters abandon most carts; loyalists check out most of theirs.
    assert by_persona["bargain_hunter"]["begin_checkout"] < 0.5 * by_persona["bargain_hunter"]["add_to_cart"]
    assert by_persona["brand_loyalist"]["purchase"] > 0.6 * by_persona["brand_loyalist"]["begin_checkout"]
    assert (
        rate("mission_shopper", "search", per="sessions") > 0.8 > 3 * rate("window_shopper", "search", per="sessions")
    )
    assert rate("gift_explorer", "add_to_wishlist") > 3 * rate("window_shopper", "add_to_wishlist")
    # Regulars buy again what they bought before.
    assert by_persona["loyal_regular"]["purchase"] > by_persona["mission_shopper"]["purchase"] / 2


def test_same_seed_same_events_other_seed_other_visitors(catalog):
    first, again, other = simulate(catalog, 6), simulate(catalog, 6), simulate(catalog, 6, seed=2)
    assert [v.events for v in first] == [v.events for v in again]
    assert {v.visitor_id for v in first}.isdisjoint(v.visitor_id for v in other)
    assert [v.persona.key for v in first] == list(PERSONAS)


@pytest.mark.django_db
def test_run_stores_every_event_and_builds_live_profiles(catalog):
    report = shoppers_simulate(visitors=12, seed=1, days=6)
    total = report.total
    assert total.rejected == 0 and total.duplicates == 0
    assert total.accepted == total.events == Event.objects.count() > 12 * 20
    assert set(report.by_persona) == set(PERSONAS)
    server = set(Event.objects.filter(source=Source.SERVER).values_list("name", flat=True))
    assert server <= SERVER_EVENTS and "add_to_cart" in server
    assert total.orders == Event.objects.filter(name=EventName.PURCHASE).count() > 0
    window_start = timezone.now() - timedelta(days=6, hours=1)
    assert not Event.objects.filter(client_ts__lt=window_start).exists()
    for visitor_id in report.visitors:
        profile = profile_read(owner=profile_owner(visitor_id=visitor_id, user_id=None))
        touched = Event.objects.filter(visitor_id=visitor_id, name__in=["view_item", "select_item", "add_to_cart"])
        latest = touched.order_by("-client_ts", "-id").values_list("product_id", flat=True)
        assert profile.recent[0] == latest[0]
        assert set(profile.recent) <= set(latest)
        assert profile.counters["page_view"] == Event.objects.filter(visitor_id=visitor_id, name="page_view").count()
    # Bargain hunters' stored views are cheaper than loyalists'.
    prices = {
        key: statistics.mean(
            catalog.by_id[pid].price
            for pid in Event.objects.filter(
                name="view_item", visitor_id__in=[v for v, k in report.visitors.items() if k == key]
            ).values_list("product_id", flat=True)
        )
        for key in ("bargain_hunter", "brand_loyalist")
    }
    assert prices["bargain_hunter"] < prices["brand_loyalist"]


@pytest.mark.django_db
def test_the_same_seed_twice_stores_nothing_new_even_in_another_hour(catalog):
    first = shoppers_simulate(visitors=6, seed=5, days=6)
    stored = Event.objects.count()
    again = shoppers_simulate(visitors=6, seed=5, days=6)
    later = shoppers_simulate(visitors=6, seed=5, days=6, now=timezone.now() + timedelta(hours=3))
    assert stored == first.total.accepted > 0
    for run in (again, later):
        assert (run.total.accepted, run.total.duplicates, run.total.rejected) == (0, stored, 0)
    assert Event.objects.count() == stored


@pytest.mark.django_db
def test_users_sign_in_mid_way_and_get_a_profile(catalog, django_capture_on_commit_callbacks):
    users = [UserFactory(username=f"shopper{n}") for n in (1, 2)]
    with django_capture_on_commit_callbacks(execute=True):
        report = shoppers_simulate(visitors=4, seed=1, days=6, users=2)
    assert report.total.rejected == 0
    for index, user in enumerate(users):
        visitor_id = list(report.visitors)[index]
        assert VisitorLink.objects.get(visitor_id=visitor_id).user_id == user.pk
        login = Event.objects.get(visitor_id=visitor_id, name="login")
        assert login.source == Source.SERVER and login.user_id == user.pk
        # Linking moved the anonymous history to the user as well.
        assert not Event.objects.filter(visitor_id=visitor_id, user_id__isnull=True).exists()
        profile = profile_read(owner=profile_owner(visitor_id=None, user_id=user.pk))
        assert profile.recent and profile.counters["login"] == 1
    assert not Event.objects.filter(visitor_id__in=list(report.visitors)[2:], user_id__isnull=False).exists()


@pytest.mark.django_db(transaction=True)
def test_visitors_on_several_threads_store_exactly_the_generated_events():
    build_catalog(products=48)
    report = shoppers_simulate(visitors=8, seed=4, days=6, concurrency=3)
    expected = {
        event.raw["event_id"] for visitor in simulate(catalog_snapshot_load(), 8, seed=4) for event in visitor.events
    }
    stored = {str(pk) for pk in Event.objects.values_list("event_id", flat=True)}
    assert report.total.rejected == 0 and report.total.visitors == 8
    assert stored == expected and report.total.accepted == len(expected)


def test_missing_shopper_accounts_and_bad_arguments_are_refused(catalog):
    with pytest.raises(CommandError, match="seed_demo"):
        call_command("simulate_shoppers", visitors=3, users=2, stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="--days"):
        call_command("simulate_shoppers", visitors=3, days=9, stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="loopback"):
        call_command("simulate_shoppers", visitors=3, url="http://10.1.2.3:8000", stdout=StringIO(), stderr=StringIO())
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    "url", ["http://example.com", "https://127.0.0.1", "http://192.168.1.4:8000", "ftp://localhost"]
)
def test_http_mode_refuses_anything_but_loopback(url):
    with pytest.raises(ValueError):
        url_check(url)


def test_command_prints_a_summary_per_persona(catalog):
    out = StringIO()
    call_command("simulate_shoppers", visitors=6, seed=9, stdout=out, stderr=StringIO())
    text = out.getvalue()
    for key in PERSONAS:
        assert key in text
    assert "0 rejected" in text and "events/s" in text
    assert f"{Event.objects.count()} events stored" in text


class _FlakyCollector(http.server.BaseHTTPRequestHandler):
    """Answers 429, then 503, then 202: what a busy collector does."""

    answers: list[int] = []
    seen: list[dict] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append({"cookie": self.headers["Cookie"], "origin": self.headers["Origin"], "body": body})
        status = type(self).answers.pop(0) if type(self).answers else 202
        payload = json.dumps({"accepted": len(json.loads(body)["events"]), "duplicates": 0, "rejected": []})
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "0")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload.encode())

    def log_message(self, *args):
        pass


def test_http_sink_waits_on_429_and_retries_5xx():
    _FlakyCollector.answers, _FlakyCollector.seen = [429, 503], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FlakyCollector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sink = HttpSink(url=f"http://127.0.0.1:{server.server_port}", rate=0, deadline=float("inf"))
        answer = sink.post(body=json.dumps({"events": [{}]}).encode(), cookies="ll_consent=granted")
    finally:
        server.shutdown()
    assert answer == (202, {"accepted": 1, "duplicates": 0, "rejected": []})
    assert sink.stats.statuses == {"429": 1, "5xx": 1, "202": 1}
    assert len(_FlakyCollector.seen) == 3
    assert _FlakyCollector.seen[0]["origin"] == f"http://127.0.0.1:{server.server_port}"


@pytest.mark.django_db(transaction=True)
def test_http_mode_posts_browser_events_to_a_live_collector(live_server):
    build_catalog(products=48)
    report = shoppers_simulate_http(
        url=live_server.url, visitors=4, seed=1, days=6, concurrency=2, rate=0, max_seconds=30
    )
    statuses = report.http.statuses
    # A visitor's burst may meet the collector's per-visitor limit; the sink waits as told and
    # sends again, so nothing is lost (accepted equals stored below).
    assert set(statuses) <= {"202", "429"} and statuses["202"] > 4
    assert report.http.percentile(0.99) >= report.http.percentile(0.5) > 0
    total = report.total
    assert total.rejected == 0 and total.accepted == Event.objects.count() > 0
    # Cart, checkout and purchase are the server's to record; they are not posted.
    assert total.skipped == total.events - total.accepted > 0
    assert not Event.objects.exclude(source=Source.WEB).exists()
    assert set(Event.objects.values_list("visitor_id", flat=True)) == set(report.visitors)
    # Event times are "now", and each visitor's cookies carried its own session ids.
    assert not Event.objects.filter(client_ts__lt=timezone.now() - timedelta(minutes=5)).exists()
    assert Event.objects.values("session_id").distinct().count() >= len(report.visitors)


@pytest.mark.django_db
def test_purchases_are_real_orders_with_stock_taken_and_clicks_reviews_and_campaigns(
    catalog, django_capture_on_commit_callbacks
):
    from shop.catalog.models import Product, Review
    from shop.orders.models import Order, OrderLine

    users = [UserFactory(username=f"shopper{n}") for n in range(1, 7)]
    stock_before = dict(Product.objects.values_list("pk", "stock"))
    with django_capture_on_commit_callbacks(execute=True):
        report = shoppers_simulate(visitors=30, seed=3, days=6, users=len(users))
    purchases = Event.objects.filter(name=EventName.PURCHASE)
    orders = Order.objects.all()
    assert report.total.rejected == 0
    assert report.total.orders == orders.count() == purchases.count() > 0
    assert {e.properties["transaction_id"] for e in purchases} == set(orders.values_list("number", flat=True))
    for event in purchases:
        order = orders.get(number=event.properties["transaction_id"])
        assert float(order.total) >= event.properties["value"]
        assert abs(order.placed_at - event.occurred_at) < timedelta(seconds=1)
    sold = Counter()
    for line in OrderLine.objects.all():
        sold[line.product_id] += line.quantity
    assert all(stock_before[pk] - stock == sold[pk] for pk, stock in Product.objects.values_list("pk", "stock"))
    assert orders.filter(user__in=users).exists()  # signed-in buyers see them in their order history
    assert not Event.objects.filter(properties__page_location__icontains="SIM-").exists()
    # Shelves are seen and clicked; liked products draw more clicks than the rest.
    clicks = Event.objects.filter(name=EventName.SELECT_ITEM, properties__has_key="slot")
    impressions = Event.objects.filter(name=EventName.IMPRESSION, properties__has_key="slot")
    assert impressions.count() > 100 and 0.01 < clicks.count() / impressions.count() < 0.3
    assert set(clicks.values_list("properties__slot", flat=True)) >= {"home_recommended", "product_similar"}
    assert Review.objects.filter(user__in=users).exists()
    assert Event.objects.filter(name=EventName.PAGE_VIEW, properties__page_location__icontains="utm_source=").exists()
    # Run again: nothing is bought twice.
    shoppers_simulate(visitors=30, seed=3, days=6, users=len(users))
    assert Order.objects.count() == orders.count()
