"""The Content-Security-Policy in a real browser: no page or admin screen breaks it, and the tracker still reports."""

import time
import uuid

import pytest
from django.urls import reverse

from tests.factories.accounts import PASSWORD, StaffFactory
from tests.factories.catalog import CategoryFactory, ProductFactory, ProductImageFactory
from tests.factories.tracking import EventFactory, RejectedEventFactory
from tests.factories.tracking_analytics import FunnelFactory, FunnelStepFactory
from tracking.models import Event

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Runs in every document before the page's own scripts; Playwright's init scripts are exempt from the policy.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.sourceFile}:${event.lineNumber}`;
  window.cspViolation(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} at ${where}`);
});
"""


@pytest.fixture
def violations(page):
    """Every CSP violation the browser reports, from the DOM event and from the console."""
    seen: list[str] = []
    page.expose_function("cspViolation", lambda violation: seen.append(violation))
    page.add_init_script(REPORT_VIOLATIONS)
    page.on(
        "console",
        lambda message: "Content Security Policy" in message.text and seen.append(f"console: {message.text}"),
    )
    return seen


def _visit(page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.ok, url
    assert response.headers.get("content-security-policy"), url
    page.wait_for_load_state("load")


# Generous: this test is about the policy, and the tracker's own two-second promise has a test
# of its own (tests/e2e/test_tracking.py); a busy CI machine must not turn it red.
def _wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    return predicate()


def test_storefront_breaks_no_policy_and_the_tracker_still_sends(live_server, page, violations, shot):
    category = CategoryFactory(name="Teapots", slug="teapots")
    product = ProductFactory(title="Cast Iron Teapot", category=category, stock=5)
    ProductImageFactory(product=product)
    ProductFactory.create_batch(4, category=category)

    _visit(page, live_server.url + "/")
    page.click("#consent-banner button[value=granted]")
    page.wait_for_selector("#consent-banner", state="hidden")
    # The banner hides as the choice is sent; the visitor cookie comes with the answer.
    cookie = _wait_for(lambda: next((c["value"] for c in page.context.cookies() if c["name"] == "ll_vid"), None))
    visitor = uuid.UUID(cookie)

    _visit(page, live_server.url + category.get_absolute_url())
    _visit(page, live_server.url + product.get_absolute_url())
    page.click("form.add-to-cart button[type=submit]")
    page.wait_for_url(live_server.url + reverse("orders:cart"))
    page.wait_for_load_state("load")
    _visit(page, live_server.url + reverse("catalog:search") + "?q=teapot")
    _visit(page, live_server.url + reverse("orders:checkout"))
    shot(page, "checkout")
    assert violations == []

    # The tracker (a static script) ran, and so did the dataLayer pushes (inline, with the nonce) that it
    # turns into view_item and view_cart.
    stored = _wait_for(
        lambda: (
            {"page_view", "view_item", "view_cart"}
            <= set(Event.objects.filter(visitor_id=visitor).values_list("name", flat=True))
        )
    )
    assert stored, set(Event.objects.filter(visitor_id=visitor).values_list("name", flat=True))


def test_admin_breaks_no_policy(live_server, page, violations, shot):
    staff = StaffFactory()
    product = ProductFactory()
    EventFactory()
    rejected = RejectedEventFactory()
    funnel = FunnelFactory()
    FunnelStepFactory(funnel=funnel)

    _visit(page, live_server.url + reverse("admin:login"))
    page.fill("#id_username", staff.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(live_server.url + reverse("admin:index"))
    for url in (
        reverse("admin:index"),
        reverse("admin:catalog_product_changelist"),
        reverse("admin:catalog_product_change", args=[product.pk]),
        reverse("admin:catalog_product_add"),
        reverse("admin:tracking_event_changelist"),
        reverse("admin:tracking_rejectedevent_change", args=[rejected.pk]),
        reverse("admin:tracking_quality_report"),
        reverse("admin:tracking_funnel_report", args=[funnel.pk]),
        reverse("admin:slot_performance"),
    ):
        _visit(page, live_server.url + url)
    shot(page, "slot-performance")
    assert violations == []
