"""Absence timers: "viewed a product and did not add it within 10 minutes", fired at their moment, once."""

import uuid
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from merchandising.models import RuleAction, RuleFiring
from merchandising.services import rules_publish
from merchandising.timers import timer_rules_forget, timers_fire
from shop.keyspace import live_push_keys, merch_timers_key, redis_client
from tests.factories.catalog import ProductFactory
from tests.factories.merchandising import CouponFactory, OfferFactory, RuleActionFactory, RuleFactory
from tests.factories.tracking import RawEventFactory
from tracking.identity import CONSENT_COOKIE, GRANTED, VISITOR_COOKIE
from tracking.services import event_ingest

pytestmark = pytest.mark.django_db
ABSENT = {"event": "view_item", "then_no": ["add_to_cart"], "within": "10m", "same": "product"}


@pytest.fixture
def discount_rule():
    offer = OfferFactory(name="Ten off it", value=10)
    CouponFactory(code="COMEBACK10", offer=offer)
    rule = RuleFactory(name="Ten minutes on a product", trigger=ABSENT)
    RuleActionFactory(rule=rule, kind=RuleAction.Kind.OFFER, offer=offer, content_slot="site_banner")
    rules_publish()
    return rule


def ingest(visitor, name, product, *, at):
    with time_machine.travel(at, tick=False):
        event_ingest(
            events=[RawEventFactory(name=name, product_id=product.pk)],
            visitor_id=visitor,
            session_id=None,
            source="web",
        )


def fire(at):
    with time_machine.travel(at, tick=False):
        return timers_fire()


def page_of(client, visitor, *, at):
    client.cookies[CONSENT_COOKIE] = GRANTED
    client.cookies[VISITOR_COOKIE] = str(visitor)
    with time_machine.travel(at, tick=False):
        return client.get(reverse("home")).content.decode()


def test_the_offer_shows_ten_minutes_after_a_view_without_an_add(client, discount_rule):
    visitor, product, start = uuid.uuid4(), ProductFactory(title="Copper kettle"), timezone.now()
    ingest(visitor, "view_item", product, at=start)
    assert fire(start + timedelta(minutes=9, seconds=59)).fired == 0
    assert "COMEBACK10" not in page_of(client, visitor, at=start + timedelta(minutes=9))
    result = fire(start + timedelta(minutes=10, seconds=2))
    assert result.fired == 1 and result.lateness_ms == [2000]
    page = page_of(client, visitor, at=start + timedelta(minutes=11))
    assert "Still thinking about" in page and "Copper kettle" in page and "COMEBACK10" in page
    firing = RuleFiring.objects.get()
    assert firing.rule == discount_rule and firing.subject == str(product.pk)


def test_adding_the_product_in_time_cancels_the_timer(client, discount_rule):
    visitor, product, start = uuid.uuid4(), ProductFactory(), timezone.now()
    ingest(visitor, "view_item", product, at=start)
    ingest(visitor, "add_to_cart", product, at=start + timedelta(minutes=4))
    assert fire(start + timedelta(minutes=30)).fired == 0
    assert "COMEBACK10" not in page_of(client, visitor, at=start + timedelta(minutes=31))
    assert redis_client().zcard(merch_timers_key()) == 0


def test_adding_another_product_does_not_cancel_it(discount_rule):
    visitor, start = uuid.uuid4(), timezone.now()
    viewed, other = ProductFactory(), ProductFactory()
    ingest(visitor, "view_item", viewed, at=start)
    ingest(visitor, "add_to_cart", other, at=start + timedelta(minutes=4))
    assert fire(start + timedelta(minutes=10)).fired == 1


def test_an_add_that_arrives_late_but_happened_after_the_moment_does_not_undo_it(discount_rule):
    visitor, product, start = uuid.uuid4(), ProductFactory(), timezone.now()
    ingest(visitor, "view_item", product, at=start)
    ingest(visitor, "add_to_cart", product, at=start + timedelta(minutes=12))  # no worker fired in between
    assert fire(start + timedelta(minutes=13)).fired == 1


def test_a_due_timer_shows_on_the_next_page_even_with_no_worker_firing_it(client, discount_rule):
    visitor, product, start = uuid.uuid4(), ProductFactory(title="Copper kettle"), timezone.now()
    ingest(visitor, "view_item", product, at=start)
    assert "COMEBACK10" in page_of(client, visitor, at=start + timedelta(minutes=10, seconds=1))


def test_a_second_view_does_not_push_the_moment_back(discount_rule):
    visitor, product, start = uuid.uuid4(), ProductFactory(), timezone.now()
    ingest(visitor, "view_item", product, at=start)
    ingest(visitor, "view_item", product, at=start + timedelta(minutes=8))
    assert fire(start + timedelta(minutes=10)).fired == 1


def test_two_workers_fire_a_timer_once_and_push_it_once(discount_rule):
    visitor, product, start = uuid.uuid4(), ProductFactory(), timezone.now()
    ingest(visitor, "view_item", product, at=start)
    due = start + timedelta(minutes=10)
    # A worker that recorded the firing and died before it cleared Redis, then another round.
    with time_machine.travel(due, tick=False):
        first = timers_fire()
    redis_client().zadd(
        merch_timers_key(), {f"v:{visitor}|{discount_rule.pk}|{product.pk}": int(due.timestamp() * 1000)}
    )
    again = fire(due + timedelta(seconds=5))
    assert (first.fired, again.fired, again.already) == (1, 0, 1)
    assert RuleFiring.objects.count() == 1
    _, log_key = live_push_keys(str(visitor))
    assert redis_client().llen(log_key) == 1 and b"rule:" in redis_client().lindex(log_key, 0)


def test_cart_idle_waits_again_after_each_add():
    idle = RuleFactory(trigger={"event": "add_to_cart", "then_no": ["add_to_cart", "begin_checkout"], "within": "30m"})
    RuleActionFactory(
        rule=idle, kind=RuleAction.Kind.OFFER, offer=OfferFactory(automatic=True), content_slot="site_banner"
    )
    visitor, start = uuid.uuid4(), timezone.now()
    ingest(visitor, "add_to_cart", ProductFactory(), at=start)
    ingest(visitor, "add_to_cart", ProductFactory(), at=start + timedelta(minutes=20))
    assert fire(start + timedelta(minutes=31)).fired == 0
    assert fire(start + timedelta(minutes=50)).fired == 1


@settings(max_examples=25, deadline=None)
@given(gap=st.integers(min_value=0, max_value=40 * 60), fire_after=st.integers(min_value=0, max_value=30 * 60))
def test_fired_if_and_only_if_no_add_came_within_the_window(gap, fire_after):
    """Property over the moment of the add and of the worker's round: the timer fires exactly when
    the add did not come before the ten minutes were up, and never before they were up."""
    redis_client().flushdb()
    RuleFiring.objects.all().delete()
    rule = RuleFactory(trigger=ABSENT)
    RuleActionFactory(rule=rule, kind=RuleAction.Kind.OFFER, offer=OfferFactory(), content_slot="site_banner")
    timer_rules_forget()
    visitor, product, start = uuid.uuid4(), ProductFactory(), timezone.now()
    ingest(visitor, "view_item", product, at=start)
    added = start + timedelta(seconds=gap)
    ingest(visitor, "add_to_cart", product, at=added)
    moment = max(added, start) + timedelta(seconds=fire_after)
    fired = fire(moment).fired
    due = start + timedelta(minutes=10)
    assert fired == int(moment >= due and added >= due)
    rule.delete()
    timer_rules_forget()


def test_the_whole_ten_minute_offer_applies_at_checkout(client, discount_rule):
    visitor, product, start = uuid.uuid4(), ProductFactory(price=Decimal("30.00"), stock=3), timezone.now()
    ingest(visitor, "view_item", product, at=start)
    fire(start + timedelta(minutes=10))
    assert "COMEBACK10" in page_of(client, visitor, at=start + timedelta(minutes=11))
    client.post(reverse("orders:cart_add"), {"product_id": product.pk})
    summary = client.post(reverse("orders:cart_coupon"), {"code": "COMEBACK10"}, follow=True).context["summary"]
    assert summary.discount == Decimal("3.00") and summary.total == Decimal("31.95")


def test_timers_redis_lost_are_set_again_from_the_record_and_fire_once(discount_rule):
    visitor, product, start = uuid.uuid4(), ProductFactory(), timezone.now()
    ingest(visitor, "view_item", product, at=start)
    ingest(visitor, "view_item", ProductFactory(), at=start)
    fire(start + timedelta(minutes=10))  # both fired and recorded
    later = ProductFactory()
    ingest(visitor, "view_item", later, at=start + timedelta(minutes=5))
    redis_client().flushdb()  # Redis lost everything: the pending timer of the later view too
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        call_command("rebuild_timers", stdout=StringIO())
    result = fire(start + timedelta(minutes=16))
    assert (result.fired, result.already) == (1, 2)
    assert RuleFiring.objects.filter(subject=str(later.pk)).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_rule_deleted_while_this_process_still_holds_it_costs_no_other_firing():
    kept, doomed = RuleFactory(trigger=ABSENT), RuleFactory(trigger=ABSENT)
    visitor, product, start = uuid.uuid4(), ProductFactory(), timezone.now()
    ingest(visitor, "view_item", product, at=start)
    doomed.delete()
    fired = fire(start + timedelta(minutes=10))
    assert (fired.fired, fired.dropped) == (1, 1)
    assert list(RuleFiring.objects.values_list("rule_id", flat=True)) == [kept.pk]
