"""The live channel in a real browser: events over the socket, HTTP once it is cut, a slot pushed to another tab."""

import json
import time
import uuid

import pytest

from tests.factories.catalog import CategoryFactory, ProductFactory
from tracking.models import Event

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _wait_for(page, predicate, timeout: float = 5.0):
    """Polls predicate while Playwright goes on dispatching (its routes and events run only inside its calls)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        page.wait_for_timeout(50)
    return predicate()


class Cutter:
    """Stands between the page and the live socket (Playwright's WebSocket routing): passes every
    frame on, until told to cut, when it lets the next batch reach the server but drops the ack and
    closes the page's socket, as a network gone at the worst moment would."""

    def __init__(self):
        self.cut_next = False
        self.cut_batches: list[dict] = []
        self.opened = False  # the page's socket said hello
        self.welcomed = False  # and the server answered it: the socket carries the page's batches
        self.sent: set[str] = set()  # ids of the events the page sent over the socket
        self.started = time.monotonic()
        self.log: list[str] = []  # what each socket did and when, for a failure's message

    def _note(self, what: str) -> None:
        self.log.append(f"{time.monotonic() - self.started:.2f}s {what}")

    def route(self, ws):
        self._note("page opens a socket")
        server = ws.connect_to_server()

        # Closes pass on as Playwright passes them when no handler is set, noted on the way.
        def page_closed(code, reason):
            self._note(f"page closed {code} {reason}")
            server.close(code=code, reason=reason)

        def server_closed(code, reason):
            self._note(f"server closed {code} {reason}")
            ws.close(code=code, reason=reason)

        ws.on_close(page_closed)
        server.on_close(server_closed)

        def from_page(message):
            frame = json.loads(message)
            self._note(f"page sent {frame.get('type')}")
            server.send(message)
            self.opened = self.opened or frame.get("type") == "hello"
            if frame.get("type") == "batch":
                self.sent.update(event["event_id"] for event in frame["events"])
            if frame.get("type") == "batch" and self.cut_next:
                self.cut_next = False
                self.cut_batches.append(frame)
                ws.close(code=1001, reason="cut")

        def from_server(message):
            frame = json.loads(message)
            self._note(f"server sent {frame.get('type')}")
            self.welcomed = self.welcomed or frame.get("type") == "welcome"
            if not self.cut_batches or frame.get("id") != self.cut_batches[-1]["id"]:
                ws.send(message)

        ws.on_message(from_page)
        server.on_message(from_server)


def test_events_go_over_the_socket_fall_back_to_http_once_and_a_cart_add_updates_another_tab(
    live_asgi,
    browser,
    shot,
):
    category = CategoryFactory(name="Teapots", slug="teapots")
    products = ProductFactory.create_batch(12, category=category, stock=5)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    cutter = Cutter()
    context.route_web_socket("**/ws/live", cutter.route)
    home = context.new_page()
    posted: list[dict] = []
    problems: list[str] = []
    # A beacon's body (a Blob, on the page's way out) is not shown to Playwright: post_data is None.
    home.on("request", lambda r: "/t/collect" in r.url and r.post_data and posted.append(json.loads(r.post_data)))
    home.on("console", lambda m: m.type == "error" and "Content Security Policy" in m.text and problems.append(m.text))

    home.goto(live_asgi.url + "/")
    home.click("#consent-banner button[value=granted]")
    home.wait_for_selector("#consent-banner", state="hidden")
    cookie = _wait_for(home, lambda: [c["value"] for c in context.cookies() if c["name"] == "ll_vid"])
    visitor = uuid.UUID(cookie[0])
    assert _wait_for(home, lambda: Event.objects.filter(visitor_id=visitor, name="page_view").exists())
    # Once the socket is open, events go over it. (The page view after consent may go by HTTP
    # when the socket takes longer than a flush to open, as on a loaded machine; and a batch whose
    # ack is slower than the tracker's 5 s goes again by HTTP, rightly, stored once.)
    assert _wait_for(home, lambda: cutter.opened and cutter.welcomed), cutter.log
    home.evaluate("llTrack.track('click', {target: 'probe'})")
    assert _wait_for(home, lambda: Event.objects.filter(visitor_id=visitor, name="click").exists())
    click = str(Event.objects.get(visitor_id=visitor, name="click").event_id)
    assert click in cutter.sent
    posted.clear()

    # The socket is cut with a batch on it: the same events go again over HTTP, stored once.
    cutter.cut_next = True
    home.evaluate("llTrack.track('scroll', {percent: 25}); llTrack.track('scroll', {percent: 50})")
    assert _wait_for(home, lambda: cutter.cut_batches, timeout=8)
    cut_ids = {event["event_id"] for event in cutter.cut_batches[0]["events"]}
    assert _wait_for(home, lambda: cut_ids <= {event["event_id"] for batch in posted for event in batch["events"]}, 8)
    assert _wait_for(home, lambda: Event.objects.filter(event_id__in=cut_ids).count() == len(cut_ids))
    assert Event.objects.filter(visitor_id=visitor, name="scroll").count() == 2

    # The page reconnects; an add to cart in another tab swaps the home page's shelf in place.
    home.wait_for_timeout(1500)
    home.evaluate("document.querySelector('[data-slot-block=home_recommended]').dataset.before = '1'")
    shot(home, "01-before")
    product_page = context.new_page()
    product_page.goto(live_asgi.url + products[3].get_absolute_url())
    product_page.click("form.add-to-cart button[type=submit]")
    product_page.wait_for_load_state()
    home.wait_for_function(
        "() => { const el = document.querySelector('[data-slot-block=home_recommended]');"
        " return el && !el.dataset.before; }",
        timeout=5000,
    )
    shot(home, "02-after-add-to-cart-elsewhere")
    assert home.locator("[data-slot-block=home_recommended] [data-product-id]").count() > 0
    assert problems == []
    # Every event of the visit is stored once, whichever way it came.
    ids = list(Event.objects.filter(visitor_id=visitor).values_list("event_id", flat=True))
    assert len(ids) == len(set(ids))
    context.close()


@pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)])
def test_a_cart_change_in_one_tab_updates_the_header_count_shelf_and_cart_page_of_the_others(
    live_asgi, browser, shot, width, height
):
    category = CategoryFactory(name="Teapots", slug="teapots")
    products = ProductFactory.create_batch(12, category=category, stock=5)
    context = browser.new_context(viewport={"width": width, "height": height})
    home = context.new_page()
    home.goto(live_asgi.url + "/")
    home.click("#consent-banner button[value=granted]")
    home.wait_for_selector("#consent-banner", state="hidden")
    home.reload()
    cart = context.new_page()
    cart.goto(live_asgi.url + "/cart/")
    assert cart.locator(".empty__title").inner_text() == "Your cart is empty."
    for page in (home, cart):
        # The sockets are open (a page view over the socket is stored as soon as it is).
        _wait_for(page, lambda page=page: page.evaluate("!!document.querySelector('.cart-link__count')"))
    home.wait_for_timeout(1000)
    home.evaluate("document.querySelector('[data-slot-block=home_recommended]').dataset.before = '1'")
    assert home.locator(".cart-link__count").inner_text() == "0"

    product_page = context.new_page()
    product_page.goto(live_asgi.url + products[3].get_absolute_url())
    product_page.fill("form.add-to-cart input[name=quantity]", "2")
    product_page.click("form.add-to-cart button[type=submit]")
    product_page.wait_for_load_state()

    # No reload: the header's count, the shelf and the cart page's lines follow.
    home.wait_for_function("() => document.querySelector('.cart-link__count').textContent.trim() === '2'", timeout=5000)
    home.wait_for_function(
        "() => { const el = document.querySelector('[data-slot-block=home_recommended]');"
        " return el && !el.dataset.before; }",
        timeout=5000,
    )
    cart.wait_for_selector(f".cart-line__title:has-text('{products[3].title}')", timeout=5000)
    assert cart.locator(".cart-link__count").inner_text() == "2"
    assert cart.locator(f"#quantity-{products[3].pk}").input_value() == "2"
    shot(home, f"{width}-01-home-after-add-elsewhere")
    shot(cart, f"{width}-02-cart-after-add-elsewhere")

    # The swapped-in cart's forms work: remove the line there, and home's count goes back to 0.
    cart.click(".cart-line__remove button")
    cart.wait_for_load_state()
    assert cart.locator(".empty__title").inner_text() == "Your cart is empty."
    home.wait_for_function("() => document.querySelector('.cart-link__count').textContent.trim() === '0'", timeout=5000)
    shot(home, f"{width}-03-home-after-remove-elsewhere")
    context.close()
