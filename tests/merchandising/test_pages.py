"""Rules and content blocks on real pages: what a shopper sees, what staff are told, what slots show."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from merchandising.demo import merchandising_seed_demo
from merchandising.models import RuleAction
from merchandising.services import rules_publish
from personalization.training import model_train
from shop.keyspace import merch_rules_keys, redis_client
from tests.factories.catalog import CategoryFactory, ProductFactory
from tests.factories.merchandising import ContentBlockFactory, OfferFactory, RuleActionFactory, RuleFactory
from tests.factories.tracking import EventFactory
from tests.personalization.shelves import trained_shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return trained_shop()


def visitor(client):
    client.post(reverse("tracking:consent"), {"choice": "granted"})
    return client


def block_rule(*, trigger, slot, headline, **fields):
    block = ContentBlockFactory(slot=slot, headline=headline, only_by_rule=True)
    action = RuleActionFactory(rule=RuleFactory(trigger=trigger, **fields), kind=RuleAction.Kind.BLOCK, block=block)
    return action.rule


def test_a_content_block_shows_on_home_and_its_promotion_id_tags_it(client, shop):
    block = ContentBlockFactory(slot="home_banner", headline="Winter sale: warm mugs")
    rules_publish()
    page = visitor(client).get(reverse("home")).content.decode()
    assert "Winter sale: warm mugs" in page
    assert f'data-promotion-id="block:{block.pk}"' in page


def test_a_rule_for_one_product_shows_on_its_page_and_not_on_another(client, shop):
    rule = block_rule(
        trigger={"page": "product", "product": shop[0].pk}, slot="product_banner", headline="Free engraving"
    )
    rules_publish()
    visitor(client)
    assert "Free engraving" in client.get(shop[0].get_absolute_url()).content.decode()
    assert "Free engraving" not in client.get(shop[1].get_absolute_url()).content.decode()
    assert f'data-promotion-id="rule:{rule.pk}"' in client.get(shop[0].get_absolute_url()).content.decode()


def test_a_category_banner_and_a_search_rule(client, shop):
    kitchen = shop[0].category
    block_rule(trigger={"page": "category", "category": kitchen.pk}, slot="category_banner", headline="Kitchen week")
    block_rule(trigger={"page": "search", "term": "mug"}, slot="site_banner", headline="All mugs 2 for 1")
    rules_publish()
    visitor(client)
    assert "Kitchen week" in client.get(kitchen.get_absolute_url()).content.decode()
    assert "All mugs 2 for 1" in client.get(reverse("catalog:search"), {"q": "Mug"}).content.decode()
    assert "All mugs 2 for 1" not in client.get(reverse("catalog:search"), {"q": "plate"}).content.decode()


def test_staff_read_why_on_the_page_and_shoppers_do_not(client, staff_client, shop):
    block_rule(
        trigger={"page": "home"}, slot="home_banner", headline="For newsletter readers",
        conditions={"segment": "newsletter"}, name="Newsletter welcome",
    )  # fmt: skip
    rules_publish()
    staff_page = visitor(staff_client).get(reverse("home")).content.decode()
    assert "Why am I seeing this?" in staff_page
    assert "Newsletter welcome</strong> (rule" in staff_page and "did not fire: not in segment newsletter" in staff_page
    client.logout()
    assert "Why am I seeing this?" not in visitor(client).get(reverse("home")).content.decode()


def test_a_rule_keeps_applying_when_redis_lost_its_publication(client, shop):
    block_rule(trigger={"page": "home"}, slot="home_banner", headline="Still here")
    rules_publish()
    redis_client().delete(*merch_rules_keys())
    assert "Still here" in visitor(client).get(reverse("home")).content.decode()
    assert redis_client().exists(*merch_rules_keys()) == 2  # the page published them again


def test_a_scheduled_block_appears_at_its_start_and_goes_at_its_end_with_no_worker(client, shop):
    start = timezone.now() + timedelta(hours=1)
    ContentBlockFactory(slot="home_banner", headline="Flash sale", starts_at=start, ends_at=start + timedelta(hours=2))
    rules_publish()
    visitor(client)
    assert "Flash sale" not in client.get(reverse("home")).content.decode()
    with time_machine.travel(start, tick=False):
        assert "Flash sale" in client.get(reverse("home")).content.decode()
    with time_machine.travel(start + timedelta(hours=2), tick=False):
        assert "Flash sale" not in client.get(reverse("home")).content.decode()


def test_pin_and_exclude_change_what_a_recommendation_slot_shows(client, shop):
    pinned, excluded = shop[19], shop[9]  # the least popular product, and the most popular
    rule = RuleFactory(trigger={"page": "home"})
    RuleActionFactory(rule=rule, kind=RuleAction.Kind.PIN, position=2, slot="home_recommended", products=[pinned])
    RuleActionFactory(rule=rule, kind=RuleAction.Kind.EXCLUDE, products=[excluded])
    rules_publish()
    slots = visitor(client).get(reverse("home")).context["slots"]
    shown = [product.pk for product in slots["home_recommended"].products]
    assert shown[1] == pinned.pk and len(shown) == 8
    assert all(excluded.pk not in [p.pk for p in block.products] for block in slots.values())
    assert slots["home_recommended"].products[1].rec_algorithm == f"rule:{rule.pk}"


def test_boost_puts_a_category_first(client, shop):
    other = CategoryFactory(name="Garden")
    gardening = ProductFactory.create_batch(2, category=other)
    now = timezone.now()
    for product in gardening:
        EventFactory(visitor_id=uuid.uuid4(), name="add_to_cart", source="server", product_id=product.pk, client_ts=now)
    model_train(name="popularity")
    rule = RuleFactory(trigger={"page": "home"})
    RuleActionFactory(rule=rule, kind=RuleAction.Kind.BOOST, category=other, slot="home_recommended")
    rules_publish()
    shown = visitor(client).get(reverse("home")).context["slots"]["home_recommended"].products
    assert {p.pk for p in shown[:2]} == {p.pk for p in gardening}


def test_a_capped_rule_shows_three_times_a_day(client, shop):
    block_rule(trigger={"page": "home"}, slot="home_banner", headline="Only thrice", cap_per_day=3)
    rules_publish()
    visitor(client)
    seen = ["Only thrice" in client.get(reverse("home")).content.decode() for _ in range(5)]
    assert seen == [True, True, True, False, False]
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        assert "Only thrice" in client.get(reverse("home")).content.decode()


def test_an_offer_action_shows_its_code(client, shop):
    offer = OfferFactory(name="Ten off", value=10)
    offer.coupons.create(code="TENOFF")
    rule = RuleFactory(trigger={"page": "cart"})
    RuleActionFactory(rule=rule, kind=RuleAction.Kind.OFFER, offer=offer, content_slot="cart_banner")
    rules_publish()
    page = visitor(client).get(reverse("orders:cart")).content.decode()
    assert '10% off your order: use code <strong class="promo__code">TENOFF</strong>' in page


def test_round_trips_of_a_product_page_do_not_grow_with_200_rules_and_50_blocks(client, shop, redis_round_trips):
    visitor(client)
    client.get(shop[0].get_absolute_url())
    redis_round_trips.clear()
    client.get(shop[0].get_absolute_url())
    without = len(redis_round_trips)
    for index in range(200):
        block_rule(
            trigger={"page": "product", "product": shop[index % 20].pk}, slot="product_banner", headline=f"R{index}"
        )
    for index in range(50):
        ContentBlockFactory(slot="home_banner", headline=f"B{index}", priority=index)
    rules_publish()
    client.get(shop[0].get_absolute_url())
    redis_round_trips.clear()
    page = client.get(shop[0].get_absolute_url())
    assert len(redis_round_trips) == without
    assert ">R0<" in page.content.decode()  # of the ten rules for this product, priorities equal: the lowest id


def test_the_demos_free_delivery_reminder_speaks_only_to_a_cart_below_fifty_pounds(client):
    merchandising_seed_demo()
    scarf = ProductFactory(price=Decimal("20.00"), stock=10)
    visitor(client).post(reverse("orders:cart_add"), {"product_id": scarf.pk, "quantity": 1})
    assert "Delivery is free from £50." in client.get(reverse("orders:cart")).content.decode()
    client.post(reverse("orders:cart_add"), {"product_id": scarf.pk, "quantity": 2})
    assert "Delivery is free from £50." not in client.get(reverse("orders:cart")).content.decode()
