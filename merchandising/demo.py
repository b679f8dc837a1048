"""The demo's merchandising: a welcome coupon, free-delivery banners, a category week, and the ten-minute offer."""

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from shop.catalog.models import Category

from .models import ContentBlock, Coupon, Offer, Rule, RuleAction
from .services import rule_version_record, rules_publish

TEN_MINUTES = {"event": "view_item", "then_no": ["add_to_cart"], "within": "10m", "same": "product"}


@dataclass(frozen=True)
class DemoMerchandising:
    rules: int
    blocks: int
    coupons: int


def _rule(name: str, *, user, description: str, trigger: dict, actions: list[dict], **fields) -> Rule:
    rule, created = Rule.objects.update_or_create(
        name=name, defaults={"description": description, "trigger": trigger, **fields}
    )
    if created:
        for action in actions:
            products = action.pop("products", ())
            made = RuleAction.objects.create(rule=rule, **action)
            made.products.set(products)
        rule_version_record(rule=rule, user=user)
    return rule


@transaction.atomic
def merchandising_seed_demo(*, user=None) -> DemoMerchandising:
    """Create what a merchandiser would have set up, once (running it again changes nothing)."""
    welcome, _ = Offer.objects.update_or_create(
        name="Welcome: 10% off a first order over £30",
        defaults={
            "kind": Offer.Kind.PERCENT,
            "value": Decimal("10"),
            "target": Offer.Target.CART,
            "min_spend": Decimal("30"),
        },
    )
    Coupon.objects.update_or_create(
        code="WELCOME10", defaults={"offer": welcome, "usage": Coupon.Usage.ONCE_PER_CUSTOMER}
    )
    nudge, _ = Offer.objects.update_or_create(
        name="Come back: 10% off your order",
        defaults={"kind": Offer.Kind.PERCENT, "value": Decimal("10"), "target": Offer.Target.CART},
    )
    Coupon.objects.update_or_create(
        code="COMEBACK10", defaults={"offer": nudge, "usage": Coupon.Usage.ONCE_PER_CUSTOMER}
    )
    ContentBlock.objects.update_or_create(
        name="Free delivery over £50 (home)",
        defaults={
            "slot": "home_banner",
            "kind": ContentBlock.Kind.BANNER,
            "headline": "Free delivery on orders over £50",
            "body": "New here? WELCOME10 takes 10% off your first order over £30.",
            "priority": 1,
        },
    )
    # Said only to a cart that does not have free delivery yet: above £50 it would tell the
    # shopper what the order summary already shows.
    reminder, _ = ContentBlock.objects.update_or_create(
        name="Free delivery reminder (cart)",
        defaults={
            "slot": "cart_banner",
            "kind": ContentBlock.Kind.MESSAGE,
            "headline": "Delivery is free from £50.",
            "only_by_rule": True,
        },
    )
    _rule(
        "Free delivery reminder under £50",
        user=user,
        description="A cart below £50 is reminded that delivery is free from £50.",
        trigger={"page": "cart"},
        conditions={"cart_value": {"below": 50}},
        actions=[{"kind": RuleAction.Kind.BLOCK, "block": reminder}],
    )
    _rule(
        "Viewed and not added within 10 minutes",
        user=user,
        description="A visitor looks at a product and does not add it to the cart within ten minutes: offer 10% off.",
        trigger=TEN_MINUTES,
        priority=10,
        cap_per_day=3,
        actions=[{"kind": RuleAction.Kind.OFFER, "offer": nudge, "content_slot": "site_banner"}],
    )
    category = Category.objects.order_by("position", "id").first()
    if category is not None:
        week, _ = ContentBlock.objects.update_or_create(
            name=f"{category.name} week",
            defaults={
                "slot": "category_banner",
                "kind": ContentBlock.Kind.BANNER,
                "headline": f"{category.name} week: the pieces our regulars come back for",
                "only_by_rule": True,
            },
        )
        _rule(
            f"{category.name} week banner",
            user=user,
            description=f"The {category.name} listing opens with its week's banner.",
            trigger={"page": "category", "category": category.pk},
            actions=[{"kind": RuleAction.Kind.BLOCK, "block": week}],
        )
    rules_publish()
    return DemoMerchandising(
        rules=Rule.objects.count(), blocks=ContentBlock.objects.count(), coupons=Coupon.objects.count()
    )
