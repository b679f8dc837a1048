"""Every page type in a real browser after consent: the shop's own tracker and templates send
nothing the collector refuses."""

import time
from decimal import Decimal

import pytest

from tests.e2e.checkout import checkout_place
from tests.factories.catalog import BrandFactory, CategoryFactory, DepartmentFactory, ProductFactory
from tracking.models import Event, RejectedEvent

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _settle(page, collector_calls: list, quiet_for: float = 1.5, timeout: float = 8.0):
    """Waits until the tracker has sent everything it queued (no new collector call for a while).
    Quiet counts only once a call was answered: the pages left before their flush sent by beacon,
    and the last page's first flush may come later than a quiet spell on a loaded machine."""
    deadline = time.monotonic() + timeout
    seen, quiet_since = len(collector_calls), time.monotonic()
    while time.monotonic() < deadline:
        page.wait_for_timeout(250)
        if len(collector_calls) != seen:
            seen, quiet_since = len(collector_calls), time.monotonic()
        elif collector_calls and time.monotonic() - quiet_since >= quiet_for:
            return


def test_every_page_type_sends_only_events_the_collector_accepts(live_server, page):
    kitchen = DepartmentFactory(name="Home & Kitchen", slug="home-kitchen")
    mugs = CategoryFactory(department=kitchen, name="Mugs", slug="mugs")
    brand = BrandFactory(name="Hearth & Co", slug="hearth-co")
    ProductFactory.create_batch(8, category=mugs, brand=brand)
    mug = ProductFactory(title="Speckled Stoneware Mug", category=mugs, brand=brand, price=Decimal("14.00"), stock=9)
    answers: list[dict] = []
    page.on(
        "response",
        lambda response: (
            "/t/collect" in response.url and response.request.method == "POST" and answers.append(response)
        ),
    )

    page.goto(live_server.url + "/")
    page.click("#consent-banner button[value=granted]")
    page.wait_for_selector("#consent-banner", state="hidden")
    page.reload()
    for path in (
        "/",
        kitchen.get_absolute_url(),
        mugs.get_absolute_url(),
        mugs.get_absolute_url() + "?sort=price_asc&page=1",
        "/search/?q=stoneware",
        "/search/?q=nothing-matches-this",
        mug.get_absolute_url(),
    ):
        page.goto(live_server.url + path)
        page.mouse.wheel(0, 3000)
        page.wait_for_timeout(1200)  # impressions count after a second in view
    page.click("button:has-text('Add to cart')")
    page.wait_for_url("**/cart/")
    page.click("text=Checkout")
    page.wait_for_url("**/checkout/")
    checkout_place(page)
    for path in ("/account/register/", "/account/login/", "/account/privacy/"):
        page.goto(live_server.url + path)
    page.goto(live_server.url + "/")
    _settle(page, answers)

    refused = [(r.name, r.reason, r.detail) for r in RejectedEvent.objects.all()]
    assert refused == []
    assert answers and {answer.status for answer in answers} == {202}
    stored = set(Event.objects.values_list("name", flat=True))
    assert {"page_view", "view_item_list", "view_item", "view_cart", "search"} <= stored, stored
