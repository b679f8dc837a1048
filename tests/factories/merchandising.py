"""Factories of rules, their actions, content blocks, offers and coupons."""

from decimal import Decimal

import factory

from merchandising.models import ContentBlock, Coupon, Offer, Rule, RuleAction


class ContentBlockFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContentBlock

    name = factory.Sequence(lambda n: f"Block {n}")
    slot = "home_banner"
    headline = factory.Sequence(lambda n: f"Headline {n}")


class OfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Offer

    name = factory.Sequence(lambda n: f"Offer {n}")
    kind = Offer.Kind.PERCENT
    value = Decimal("10")
    target = Offer.Target.CART


class CouponFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Coupon

    code = factory.Sequence(lambda n: f"SAVE{n}")
    offer = factory.SubFactory(OfferFactory)


class RuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rule

    name = factory.Sequence(lambda n: f"Rule {n}")
    trigger = factory.LazyFunction(lambda: {"page": "home"})
    conditions = factory.LazyFunction(dict)


class RuleActionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RuleAction
        skip_postgeneration_save = True

    rule = factory.SubFactory(RuleFactory)
    kind = RuleAction.Kind.BLOCK

    @factory.post_generation
    def products(self, create, extracted, **kwargs):
        if create and extracted:
            self.products.set(extracted)
