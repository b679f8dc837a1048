"""Pushes: an add_to_cart refreshes the slots on open pages; a reconnecting page misses and repeats none."""

import json
import time
import uuid
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from websockets.exceptions import ConnectionClosed

from shop.keyspace import RedisBatch, live_push_keys, redis_client
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.catalog import ProductFactory
from tests.live_server import ORIGIN
from tracking.hooks import StoredBatch
from tracking.identity import VISITOR_COOKIE
from tracking.models import Event
from tracking.payloads import raw_event

pytestmark = pytest.mark.django_db(transaction=True)


def frame(socket, timeout: float = 5) -> dict:
    return json.loads(socket.recv(timeout=timeout))


def shopper_client(visitor) -> Client:
    client = Client(HTTP_ORIGIN=ORIGIN)
    for name, value in visitor.cookies.items():
        client.cookies[name] = value
    return client


def send_events(client: Client, *events: dict) -> None:
    response = client.post(
        reverse("tracking:collect"), data=json.dumps({"events": list(events)}), content_type="application/json"
    )
    assert response.status_code == 202, response.content


@pytest.fixture
def products():
    return ProductFactory.create_batch(12, stock=5)


def test_an_add_to_cart_pushes_the_pages_slots_rendered_by_the_slot_template(live_asgi, visitor, products):
    client = shopper_client(visitor)
    with live_asgi.socket(visitor.cookies) as home, live_asgi.socket(visitor.cookies) as product_page:
        home.send(json.dumps({"type": "hello", "page": "home", "products": []}))
        product_page.send(json.dumps({"type": "hello", "page": "product", "products": [products[0].pk]}))
        assert frame(home) == {"type": "welcome", "seq": 0}
        assert frame(product_page) == {"type": "welcome", "seq": 0}
        send_events(client, raw_event("view_item", product_id=products[1].pk))
        send_events(client, raw_event("add_to_cart", product_id=products[1].pk, props={"quantity": 1}))
        pushed = frame(home)
        on_product_page = frame(product_page)
    assert (pushed["type"], pushed["seq"], pushed["kind"], pushed["cause"]) == ("push", 1, "cart", "add_to_cart")
    # with the page's content slots, empty ones included, so an offer that ended goes from the page too
    assert set(pushed["slots"]) == {"home_recommended", "home_trending", "content:site_banner", "content:home_banner"}
    assert pushed["slots"]["content:home_banner"].strip() == '<div hidden data-slot-block="content:home_banner"></div>'

    html = pushed["slots"]["home_recommended"]
    assert 'data-slot-block="home_recommended"' in html and 'data-slot-page="home"' in html
    assert html.count("data-track-impression") >= 1
    assert on_product_page["seq"] == 1
    assert set(on_product_page["slots"]) == {
        "product_also_bought",
        "product_similar",
        "content:site_banner",
        "content:product_banner",
    }
    # The product page's own product is left out of its shelves, as when it was rendered.
    assert f'data-product-id="{products[0].pk}"' not in "".join(on_product_page["slots"].values())


def test_a_batch_without_add_to_cart_pushes_nothing(live_asgi, visitor, products):
    client = shopper_client(visitor)
    with live_asgi.socket(visitor.cookies) as page:
        page.send(json.dumps({"type": "hello", "page": "home"}))
        frame(page)
        send_events(client, raw_event("view_item", product_id=products[1].pk))
        page.send(json.dumps({"type": "ping"}))
        assert frame(page) == {"type": "pong"}
    assert not redis_client().exists(*live_push_keys(str(visitor.visitor_id)))


def test_a_reconnecting_page_gets_the_pushes_it_missed_once_and_nothing_twice(live_asgi, visitor, products):
    client = shopper_client(visitor)
    for product in products[:3]:
        send_events(client, raw_event("add_to_cart", product_id=product.pk, props={"quantity": 1}))
    with live_asgi.socket(visitor.cookies) as page:
        page.send(json.dumps({"type": "hello", "page": "home", "seq": 1}))
        assert frame(page) == {"type": "welcome", "seq": 1}
        replayed = [frame(page), frame(page)]
        page.send(json.dumps({"type": "ping"}))
        assert frame(page) == {"type": "pong"}
    assert [(push["seq"], push["resync"]) for push in replayed] == [(2, False), (3, False)]
    with live_asgi.socket(visitor.cookies) as page:
        page.send(json.dumps({"type": "hello", "page": "home", "seq": 3}))
        assert frame(page) == {"type": "welcome", "seq": 3}
        page.send(json.dumps({"type": "ping"}))
        assert frame(page) == {"type": "pong"}


def test_a_page_further_behind_than_the_log_reaches_gets_one_fresh_render(live_asgi, visitor, products, settings):
    settings.LIVE_PUSH_KEEP = 2
    client = shopper_client(visitor)
    for product in products[:4]:
        send_events(client, raw_event("add_to_cart", product_id=product.pk, props={"quantity": 1}))
    with live_asgi.socket(visitor.cookies) as page:
        page.send(json.dumps({"type": "hello", "page": "home", "seq": 1}))
        assert frame(page)["seq"] == 1
        resync = frame(page)
        page.send(json.dumps({"type": "ping"}))
        assert frame(page) == {"type": "pong"}
    assert (resync["seq"], resync["resync"], resync["cause"]) == (4, True, "resync")
    assert resync["slots"]["home_recommended"]
    # A count started over (the log expired) is a gap too: the page's 9 is ahead of Redis's 4.
    with live_asgi.socket(visitor.cookies) as page:
        page.send(json.dumps({"type": "hello", "page": "home", "seq": 9}))
        frame(page)
        restarted = frame(page)
    assert (restarted["seq"], restarted["resync"]) == (4, True)


def test_the_push_waits_for_the_round_trip_that_writes_the_profile_and_the_log(live_asgi, visitor, products):
    from django.utils import timezone

    from live.hooks import PushHook
    from tracking.hooks import TrackedEvent

    event = TrackedEvent(
        event_id=uuid.uuid4(),
        name="add_to_cart",
        visitor_id=visitor.visitor_id,
        user_id=None,
        session_id=None,
        product_id=products[0].pk,
        category_id=None,
        properties={},
        occurred_at=timezone.now(),
    )
    stored = StoredBatch(
        events=(event,), source="web", visitor_id=visitor.visitor_id, user_id=None, session_id=None, received_at=None
    )
    with live_asgi.socket(visitor.cookies) as page:
        page.send(json.dumps({"type": "hello", "page": "home"}))
        frame(page)
        batch = RedisBatch()
        PushHook().batch_stored(stored, redis=batch)
        with pytest.raises(TimeoutError):
            frame(page, timeout=0.5)
        batch.execute()
        assert frame(page)["seq"] == 1


def test_a_socket_quiet_for_longer_than_the_layers_read_timeout_still_gets_its_push(live_asgi, visitor, products):
    """The channel layer's blocking read (5 s) outlasting redis-py's socket timeout killed such sockets."""
    with live_asgi.socket(visitor.cookies) as page:
        page.send(json.dumps({"type": "hello", "page": "home"}))
        frame(page)
        time.sleep(6)
        send_events(shopper_client(visitor), raw_event("add_to_cart", product_id=products[0].pk))
        assert frame(page)["seq"] == 1


def test_a_cart_change_in_one_tab_tells_the_visitors_other_pages_and_refreshes_shelves(live_asgi, visitor, products):
    """The storefront records add_to_cart and remove_from_cart itself; each pushes a cart change
    to every open page of the visitor, whose tracker then fetches the cart's pieces."""
    client = shopper_client(visitor)
    with live_asgi.socket(visitor.cookies) as listing, live_asgi.socket(visitor.cookies) as home:
        listing.send(json.dumps({"type": "hello", "page": None}))
        home.send(json.dumps({"type": "hello", "page": "home"}))
        frame(listing), frame(home)
        send_events(client, raw_event("view_item", product_id=products[1].pk))
        added = client.post(reverse("orders:cart_add"), {"product_id": products[2].pk, "quantity": "2"})
        assert added.status_code == 302
        on_listing, on_home = frame(listing), frame(home)
        removed = client.post(reverse("orders:cart_remove"), {"product_id": products[2].pk})
        assert removed.status_code == 302
        after_remove = frame(home)
    assert (on_listing["seq"], on_listing["kind"], on_listing["cause"]) == (1, "cart", "add_to_cart")
    # A page without slots gets the cart change alone.
    assert on_listing["slots"] == {}
    assert (on_home["kind"], on_home["cause"]) == ("cart", "add_to_cart")
    assert "home_recommended" in on_home["slots"]
    assert (after_remove["seq"], after_remove["kind"], after_remove["cause"]) == (2, "cart", "remove_from_cart")


def _rss_kib() -> int:
    """This process's resident memory: the server under test runs in a thread of it."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_page_that_stops_reading_is_closed_as_a_slow_client_without_its_pushes_piling_up(
    live_asgi, visitor, products, settings
):
    """Thousands of pushes for a page that reads none: the server holds what the socket's buffers
    take, waits the send timeout, and closes it (4409); the rest are never rendered or kept."""
    from live.pushes import SLOTS, pushes_queue

    settings.LIVE_SEND_TIMEOUT_SECONDS = 1
    settings.LIVE_PUSH_KEEP = 3000
    send_events(shopper_client(visitor), raw_event("view_item", product_id=products[1].pk))
    # max_queue=1: the client stops taking frames off the socket once one waits unread.
    with live_asgi.socket(visitor.cookies, max_queue=1) as page:
        page.send(json.dumps({"type": "hello", "page": "home"}))
        assert frame(page) == {"type": "welcome", "seq": 0}
        before = _rss_kib()
        batch = RedisBatch()
        pushes_queue(batch=batch, pushes=[(visitor.visitor_id, SLOTS, "flood")] * 3000)
        batch.execute()
        peak = before
        started = time.monotonic()
        while time.monotonic() - started < 4:
            peak = max(peak, _rss_kib())
            time.sleep(0.05)
        received, size = 0, 0
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                message = page.recv(timeout=5)
                received, size = received + 1, len(message)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4409, "slow_client")
    # The page got what the socket's buffers held when it stopped, not the 3,000 (some 40 MB).
    assert 0 < received < 3000
    assert size * 3000 > 20 * 1024 * 1024
    assert peak - before < 16 * 1024, f"server memory grew {peak - before} KiB for an unread socket"


def test_a_sign_in_in_another_tab_reopens_the_socket_as_that_user_and_a_sign_out_as_a_new_visitor(live_asgi, visitor):
    """The socket's cookies are those of its handshake: after a sign-in elsewhere its session is
    gone, so it closes with identity_changed, and the one the page opens with the browser's
    cookies now carries the user; after the sign-out, a new visitor with no user."""
    user = UserFactory()
    client = shopper_client(visitor)
    with live_asgi.socket(visitor.cookies) as anonymous:
        anonymous.send(json.dumps({"type": "hello", "page": None}))
        frame(anonymous)
        client.post(reverse("accounts:login"), {"username": user.username, "password": PASSWORD})
        with pytest.raises(ConnectionClosed) as closed:
            frame(anonymous)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4410, "identity_changed")

    cookies = {name: morsel.value for name, morsel in client.cookies.items()}
    with live_asgi.socket(cookies) as signed_in:
        signed_in.send(json.dumps({"type": "batch", "id": 1, "events": [raw_event("page_view")]}))
        assert frame(signed_in)["type"] == "ack"
        client.post(reverse("accounts:logout"))
        with pytest.raises(ConnectionClosed) as closed:
            frame(signed_in)
    assert closed.value.rcvd.code == 4410
    cookies = {name: morsel.value for name, morsel in client.cookies.items()}
    assert cookies[VISITOR_COOKIE] != str(visitor.visitor_id)
    with live_asgi.socket(cookies) as after:
        after.send(json.dumps({"type": "batch", "id": 2, "events": [raw_event("page_view")]}))
        assert frame(after)["type"] == "ack"
    stored = dict(Event.objects.filter(name="page_view").values_list("visitor_id", "user_id"))
    assert stored == {visitor.visitor_id: user.pk, uuid.UUID(cookies[VISITOR_COOKIE]): None}
