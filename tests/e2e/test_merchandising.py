"""The ten-minute discount in a real browser: view a product, let ten minutes pass on a clock the
test controls, see the offer, apply its code, and order with the discount."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from merchandising.models import RuleAction
from merchandising.services import rules_publish
from merchandising.timers import timers_fire
from shop.orders.models import Order
from tests.e2e.checkout import checkout_place
from tests.e2e.test_admin_charts import _errors, _log_in
from tests.factories.catalog import ProductFactory
from tests.factories.merchandising import CouponFactory, OfferFactory, RuleActionFactory, RuleFactory
from tests.factories.tracking import EventFactory
from tracking.models import Event

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
TEN_MINUTES = {"event": "view_item", "then_no": ["add_to_cart"], "within": "10m", "same": "product"}


def wait_for(condition, page, *, seconds=10):
    for _ in range(seconds * 10):
        if condition():
            return
        page.wait_for_timeout(100)
    raise AssertionError("the browser's event never arrived")


def test_view_wait_see_the_offer_and_order_with_it(live_server, page, shot):
    kettle = ProductFactory(title="Copper Kettle", price=Decimal("40.00"), stock=3)
    offer = OfferFactory(name="Kettle nudge", value=10)
    CouponFactory(code="KETTLE10", offer=offer)
    rule = RuleFactory(trigger=TEN_MINUTES)
    RuleActionFactory(rule=rule, kind=RuleAction.Kind.OFFER, offer=offer, content_slot="site_banner")
    rules_publish()

    page.goto(live_server.url + "/")
    page.click("#consent-banner button[value=granted]")
    # Leaving before the consent's answer is back aborts it, and the next page has no tracker.
    page.wait_for_selector("#consent-banner", state="hidden")
    page.goto(live_server.url + kettle.get_absolute_url())
    wait_for(lambda: Event.objects.filter(name="view_item", product_id=kettle.pk).exists(), page)
    assert page.locator(".promo").count() == 0

    with time_machine.travel(timezone.now() + timedelta(minutes=10, seconds=5)):
        assert timers_fire().fired == 1
        page.goto(live_server.url + "/")
        offer_box = page.locator("[data-slot-block='content:site_banner'].promo")
        assert "Still thinking about Copper Kettle?" in offer_box.inner_text()
        assert "KETTLE10" in offer_box.inner_text()
        shot(page, "01-offer-desktop")
        page.set_viewport_size({"width": 390, "height": 844})
        shot(page, "02-offer-phone")
        page.set_viewport_size({"width": 1280, "height": 900})

        offer_box.locator("a.promo__link").click()
        page.wait_for_url("**/p/**")
        page.click("button:has-text('Add to cart')")
        page.wait_for_url("**/cart/")
        page.fill("#coupon-code", "kettle10")
        page.click(".coupon-form button:has-text('Apply')")
        page.wait_for_url("**/cart/")
        assert "−£4.00" in page.content()
        shot(page, "03-cart-with-coupon")
        page.click("text=Go to checkout")
        page.wait_for_url("**/checkout/")
        checkout_place(page)
        assert "−£4.00" in page.content()
        shot(page, "04-order")
    order = Order.objects.get()
    assert (order.discount, order.total, order.coupon_code) == (Decimal("4.00"), Decimal("40.95"), "KETTLE10")


def test_a_rules_admin_page_charts_what_it_earned_and_its_dry_run_counts(live_server, page, shot):
    offer = OfferFactory(name="Kettle nudge", value=10)
    rule = RuleFactory(name="Ten minutes on a product", trigger=TEN_MINUTES)
    RuleActionFactory(rule=rule, kind=RuleAction.Kind.OFFER, offer=offer, content_slot="site_banner")
    now = timezone.now()
    for day in range(5):
        for _ in range(day + 2):
            EventFactory(name="view_promotion", properties={"promotion_id": f"rule:{rule.pk}"},
                         client_ts=now - timedelta(days=day))  # fmt: skip
        EventFactory(name="select_promotion", properties={"promotion_id": f"rule:{rule.pk}"},
                     client_ts=now - timedelta(days=day))  # fmt: skip
    errors = _errors(page)
    _log_in(page, live_server)
    page.goto(f"{live_server.url}/admin/merchandising/rule/{rule.pk}/change/")
    page.locator("figure.chart-drawn").first.wait_for()
    earned = " ".join(page.locator("fieldset", has_text="What it earned").inner_text().split())
    assert "Shown 20 times; click-through 25.0%" in earned
    shot(page, "05-rule-admin")
    page.click("text=Dry run over yesterday")
    page.wait_for_url("**/dry-run/")
    assert "Would have fired for 0 visitors" in page.content()
    shot(page, "06-dry-run")
    assert errors == []
