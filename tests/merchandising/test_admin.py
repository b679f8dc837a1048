"""Merchandising admin: rules checked on save naming the wrong part, versions kept, a dry run, viewing as a segment."""

import json
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from merchandising.models import Offer, Rule, RuleVersion
from merchandising.services import rules_publish
from tests.factories.catalog import ProductFactory
from tests.factories.merchandising import ContentBlockFactory, OfferFactory, RuleActionFactory, RuleFactory
from tests.factories.segments import SegmentFactory
from tests.factories.tracking import RawEventFactory
from tracking.services import event_ingest

pytestmark = pytest.mark.django_db


def inline(prefix: str, total: int = 0) -> dict:
    """The management form of an admin inline."""
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def viewed(visitor, name, product, *, at):
    with time_machine.travel(at, tick=False):
        event_ingest(events=[RawEventFactory(name=name, product_id=product.pk)], visitor_id=visitor, source="web")


def rule_form(*, trigger, actions=(), **fields):
    data = {
        "name": fields.pop("name", "Nudge"),
        "description": "",
        "is_active": "on",
        "trigger": json.dumps(trigger),
        "conditions": json.dumps(fields.pop("conditions", {})),
        "priority": "0",
        "exclusive_group": "",
        "cap_per_day": "",
        **inline("actions", len(actions)),
        **inline("versions"),
        **fields,
    }
    for index, action in enumerate(actions):
        for key, value in action.items():
            data[f"actions-{index}-{key}"] = value
    return data


def add_rule(client, **form):
    return client.post(reverse("admin:merchandising_rule_add"), rule_form(**form))


def test_a_rule_without_an_action_is_refused(admin_client):
    answer = add_rule(admin_client, trigger={"page": "home"})
    assert answer.status_code == 200 and "Please submit at least 1 form." in answer.content.decode()
    assert not Rule.objects.exists()


def test_a_window_of_zero_is_refused_naming_it(admin_client):
    block = ContentBlockFactory()
    answer = add_rule(
        admin_client,
        trigger={"event": "view_item", "then_no": ["add_to_cart"], "within": "0m"},
        actions=[{"kind": "block", "block": block.pk}],
    )
    assert "trigger.within: a window must be at least one minute" in answer.content.decode()


def test_a_condition_on_a_segment_that_does_not_exist_is_refused(admin_client):
    answer = add_rule(
        admin_client, trigger={"page": "home"}, conditions={"segment": "ghosts"},
        actions=[{"kind": "block", "block": ContentBlockFactory().pk}],
    )  # fmt: skip
    assert "conditions: no segment is called &#x27;ghosts&#x27;" in answer.content.decode()


def test_a_pin_needs_a_position_and_something_to_pin(admin_client):
    answer = add_rule(admin_client, trigger={"page": "home"}, actions=[{"kind": "pin"}])
    assert "Pin at a position in recommendations: choose products" in answer.content.decode()


def test_saving_keeps_a_version_with_who_changed_what(admin_client):
    block = ContentBlockFactory()
    answer = add_rule(admin_client, trigger={"page": "home"}, actions=[{"kind": "block", "block": block.pk}])
    assert answer.status_code == 302
    rule = Rule.objects.get()
    form = rule_form(trigger={"page": "home"}, priority="5")
    action = rule.actions.get()
    form.update({"actions-TOTAL_FORMS": "1", "actions-INITIAL_FORMS": "1", "actions-0-id": action.pk,
                 "actions-0-rule": rule.pk, "actions-0-kind": "block", "actions-0-block": block.pk})  # fmt: skip
    assert admin_client.post(reverse("admin:merchandising_rule_change", args=[rule.pk]), form).status_code == 302
    first, second = RuleVersion.objects.order_by("number")
    assert (first.changes, second.changes) == ("created", "changed priority")
    assert second.changed_by.username == "admin" and Rule.objects.get().version == 2
    history = admin_client.get(reverse("admin:merchandising_rule_change", args=[rule.pk]))
    assert "changed priority" in history.content.decode()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "percent", "value": "150", "target": "cart"}, "a percentage off is at most 100"),
        ({"kind": "amount", "value": "50", "target": "product"}, "more than the product&#x27;s price"),
        ({"kind": "amount", "value": "-1", "target": "cart"}, "Ensure this value is greater than or equal to 0.01"),
    ],
)
def test_an_offer_over_100_percent_or_above_the_price_is_refused(admin_client, fields, message):
    product = ProductFactory(price=Decimal("20.00"))
    form = {
        "name": "Too much",
        "min_spend": "0",
        "is_active": "on",
        "product": product.pk,
        **fields,
        **inline("coupons"),
    }
    answer = admin_client.post(reverse("admin:merchandising_offer_add"), form)
    assert answer.status_code == 200 and message in answer.content.decode()
    assert not Offer.objects.exists()


def test_a_coupon_code_with_odd_characters_is_refused(admin_client):
    offer = OfferFactory()
    form = {"code": "SAVE 10%", "offer": offer.pk, "usage": "multi", "is_active": "on", **inline("redemptions")}
    answer = admin_client.post(reverse("admin:merchandising_coupon_add"), form)
    assert "A code is 1 to 32 letters, digits and dashes." in answer.content.decode()


def test_the_dry_run_counts_whom_the_rule_would_have_reached_yesterday(admin_client):
    block = ContentBlockFactory()
    add_rule(
        admin_client,
        trigger={"event": "view_item", "then_no": ["add_to_cart"], "within": "10m", "same": "product"},
        actions=[{"kind": "block", "block": block.pk}],
    )
    rule = Rule.objects.get()
    product = ProductFactory()
    yesterday = (timezone.now() - timedelta(days=1)).replace(hour=10, minute=0)
    for visitor, adds in ((uuid.uuid4(), False), (uuid.uuid4(), True), (uuid.uuid4(), False)):
        viewed(visitor, "view_item", product, at=yesterday)
        if adds:
            viewed(visitor, "add_to_cart", product, at=yesterday + timedelta(minutes=3))
    page = admin_client.get(reverse("admin:merchandising_rule_dry_run", args=[rule.pk])).content.decode()
    assert "Would have fired for 2 visitors (2 sessions)" in page
    answer = admin_client.get(reverse("admin:merchandising_rule_dry_run", args=[rule.pk]), {"day": "yesterday"})
    assert "Write the day as 2026-11-30" in answer.content.decode()


def test_staff_view_the_shop_as_a_segment_and_stop(admin_client):
    SegmentFactory(slug="vip", name="VIP")
    ContentBlockFactory(slot="home_banner", headline="For our VIPs", segments=["vip"])
    rules_publish()
    admin_client.post(reverse("tracking:consent"), {"choice": "granted"})
    assert "For our VIPs" not in admin_client.get(reverse("home")).content.decode()
    refused = admin_client.post(reverse("admin:merchandising_rule_view_as"), {"segments": ["vip", "nonsense"]})
    assert refused.status_code == 400 and "Select a valid choice. nonsense" in refused.content.decode()
    admin_client.post(reverse("admin:merchandising_rule_view_as"), {"segments": ["vip"], "device": "phone"})
    page = admin_client.get(reverse("home")).content.decode()
    assert "For our VIPs" in page and "you see the shop as a member of vip, on a phone." in page
    admin_client.post(reverse("admin:merchandising_rule_view_as"), {"stop": "1"})
    assert "For our VIPs" not in admin_client.get(reverse("home")).content.decode()


def test_staff_view_the_shop_as_a_synthetic_visitor_with_a_cart(admin_client):
    kettle = ProductFactory(title="Copper kettle", price=Decimal("60.00"))
    rule = RuleFactory(trigger={"page": "home"}, conditions={"cart_value": {"at_least": 100}})
    RuleActionFactory(
        rule=rule, kind="block", block=ContentBlockFactory(slot="home_banner", headline="Over £100", only_by_rule=True)
    )
    rules_publish()
    admin_client.post(reverse("tracking:consent"), {"choice": "granted"})
    assert "Over £100" not in admin_client.get(reverse("home")).content.decode()
    bad = admin_client.post(reverse("admin:merchandising_rule_view_as"), {"cart": "kettle"})
    assert bad.status_code == 400 and "is not a product id" in bad.content.decode()
    admin_client.post(reverse("admin:merchandising_rule_view_as"), {"cart": f"{kettle.pk}x2", "recent": str(kettle.pk)})
    page = admin_client.get(reverse("home")).content.decode()
    assert "Over £100" in page and "having viewed 1 product, with 2 in the cart" in page
