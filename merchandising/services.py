"""Writes of merchandising: checking a rule before it is saved, its versions, and publishing to Redis."""

import hashlib
import json
import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from shop.keyspace import merch_rules_keys, redis_client

from .definitions import AbsenceTrigger, DefinitionError, conditions_parse, segments_named, trigger_parse
from .models import ContentBlock, Offer, Rule, RuleAction, RuleVersion

logger = logging.getLogger(__name__)

# The actions on the products of recommendation slots, which need products, a category or the trigger's product.
PRODUCT_ACTIONS = {RuleAction.Kind.BOOST, RuleAction.Kind.BURY, RuleAction.Kind.PIN, RuleAction.Kind.EXCLUDE}


class RuleError(ValueError):
    """A rule that cannot be saved as it is; field is the form field to show it under."""

    def __init__(self, field: str | None, message: str):
        self.field = field
        super().__init__(message)


def rule_check(*, trigger, conditions, known_segments: set[str]) -> None:
    """Raise RuleError naming the wrong part of a trigger or condition tree."""
    try:
        trigger_parse(trigger)
    except DefinitionError as error:
        raise RuleError("trigger", str(error)) from None
    try:
        parsed = conditions_parse(conditions)
    except DefinitionError as error:
        raise RuleError("conditions", str(error)) from None
    unknown = sorted(segments_named(parsed) - known_segments)
    if unknown:
        raise RuleError("conditions", f"conditions: no segment is called {unknown[0]!r}")


def action_check(*, action: RuleAction, trigger, products=()) -> None:
    """What one action needs: a block, an offer, products or a category, a position for a pin."""
    kind = action.kind
    if kind == RuleAction.Kind.BLOCK and action.block_id is None:
        raise RuleError("block", "choose the content block to show")
    if kind == RuleAction.Kind.OFFER and action.offer_id is None:
        raise RuleError("offer", "choose the offer to show")
    if kind in PRODUCT_ACTIONS:
        if not (products or action.category_id or action.subject_product):
            raise RuleError(None, f"{action.get_kind_display()}: choose products, a category, or the trigger's product")
        if kind == RuleAction.Kind.PIN and action.position is None:
            raise RuleError("position", "a pin needs its position (1 is first)")
    if action.subject_product:
        try:
            parsed = trigger_parse(trigger)
        except DefinitionError:
            return  # the trigger's own error is shown
        if not (isinstance(parsed, AbsenceTrigger) and parsed.same == "product"):
            raise RuleError("subject_product", 'only an event trigger with "same": "product" has a product of its own')


def offer_check(*, offer: Offer) -> None:
    """A discount never over 100%, never above the price of what it is on."""
    if offer.kind == Offer.Kind.PERCENT and offer.value > 100:
        raise RuleError("value", "a percentage off is at most 100")
    if offer.target == Offer.Target.PRODUCT and offer.product_id is None:
        raise RuleError("product", "choose the product the offer is on")
    if offer.target == Offer.Target.CATEGORY and offer.category_id is None:
        raise RuleError("category", "choose the category the offer is on")
    on_product = offer.target == Offer.Target.PRODUCT and offer.product_id
    if offer.kind == Offer.Kind.AMOUNT and on_product and offer.value > offer.product.price:
        raise RuleError("value", f"£{offer.value} off is more than the product's price (£{offer.product.price})")
    if offer.starts_at and offer.ends_at and offer.ends_at <= offer.starts_at:
        raise RuleError("ends_at", "the offer ends before it starts")


def _snapshot(rule: Rule) -> dict:
    return {
        "name": rule.name,
        "description": rule.description,
        "is_active": rule.is_active,
        "trigger": rule.trigger,
        "conditions": rule.conditions,
        "priority": rule.priority,
        "exclusive_group": rule.exclusive_group,
        "cap_per_day": rule.cap_per_day,
        "starts_at": rule.starts_at.isoformat() if rule.starts_at else None,
        "ends_at": rule.ends_at.isoformat() if rule.ends_at else None,
        "actions": [_action_json(action) for action in rule.actions.all()],
    }


def _action_json(action: RuleAction) -> dict:
    return {
        "kind": action.kind,
        "block": action.block_id,
        "offer": action.offer_id,
        "content_slot": action.content_slot,
        "products": sorted(product.pk for product in action.products.all()),
        "category": action.category_id,
        "subject_product": action.subject_product,
        "slot": action.slot,
        "position": action.position,
    }


def _changes(before: dict | None, after: dict) -> str:
    if before is None:
        return "created"
    changed = [key for key in after if before.get(key) != after[key]]
    return "changed " + ", ".join(changed) if changed else "saved without changes"


def rule_version_record(*, rule: Rule, user) -> RuleVersion:
    """Keep what the rule is after this save (actions included) and who saved it."""
    with transaction.atomic():
        locked = Rule.objects.select_for_update().get(pk=rule.pk)
        last = locked.versions.first()
        snapshot = _snapshot(locked)
        number = last.number + 1 if last else 1
        version = RuleVersion.objects.create(
            rule=locked,
            number=number,
            snapshot=snapshot,
            changes=_changes(last.snapshot if last else None, snapshot),
            changed_by=user if user is not None and user.is_authenticated else None,
        )
        Rule.objects.filter(pk=locked.pk).update(version=number)
    transaction.on_commit(rules_publish)
    return version


def _epoch(moment) -> float | None:
    return moment.timestamp() if moment else None


def _block_json(block: ContentBlock) -> dict:
    return {
        "id": block.pk,
        "name": block.name,
        "slot": block.slot,
        "kind": block.kind,
        "headline": block.headline,
        "body": block.body,
        "link_url": block.link_url,
        "link_text": block.link_text,
        "products": [product.pk for product in block.products.all()],
        "segments": list(block.segments or []),
        "excluded": list(block.excluded_segments or []),
        "only_by_rule": block.only_by_rule,
        "priority": block.priority,
        "starts": _epoch(block.starts_at),
        "ends": _epoch(block.ends_at),
    }


def _offer_json(offer: Offer) -> dict:
    coupon = next((c for c in offer.coupons.all() if c.is_active), None)
    return {
        "id": offer.pk,
        "text": offer.describe(),
        "code": "" if offer.automatic or coupon is None else coupon.code,
        "automatic": offer.automatic,
    }


def publication_build() -> str:
    """The rules and blocks that may apply from now on, as pages read them. Schedules are
    published, not waited for: a rule starts and ends at render, with no scheduler to miss it."""
    now = timezone.now()
    current = Q(is_active=True) & (Q(ends_at__isnull=True) | Q(ends_at__gt=now))
    rules = (
        Rule.objects.filter(current)
        .prefetch_related(
            "actions__products",
            "actions__block__products",
            "actions__offer__coupons",
            "actions__offer__product",
            "actions__offer__category",
        )
        .order_by("-priority", "id")
    )
    published_rules = []
    for rule in rules:
        actions = []
        for action in rule.actions.all():
            # What the history records, with the block and offer themselves in place of their ids.
            actions.append(
                {
                    **_action_json(action),
                    "block": _block_json(action.block) if action.block_id else None,
                    "offer": _offer_json(action.offer) if action.offer_id else None,
                }
            )
        if not actions:
            continue  # the admin refuses a rule without one; an old row without is inert
        published_rules.append(
            {
                "id": rule.pk,
                "name": rule.name,
                "priority": rule.priority,
                "group": rule.exclusive_group,
                "cap": rule.cap_per_day,
                "starts": _epoch(rule.starts_at),
                "ends": _epoch(rule.ends_at),
                "trigger": rule.trigger,
                "conditions": rule.conditions,
                "actions": actions,
            }
        )
    blocks = ContentBlock.objects.filter(current).prefetch_related("products")
    return json.dumps({"rules": published_rules, "blocks": [_block_json(block) for block in blocks]})


def rules_publish() -> str:
    """Write the publication to Redis; returns it (a page that found none uses it at once)."""
    return publication_store(publication_build())


def publication_store(raw: str) -> str:
    """The document and its version in one transaction: a page never reads one without the other."""
    version_key, document_key = merch_rules_keys()
    try:
        pipe = redis_client().pipeline(transaction=True)
        pipe.set(document_key, raw)
        pipe.set(version_key, hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest())
        pipe.execute()
    except Exception:
        # The page that finds nothing published builds it from the database again.
        logger.warning("merchandising rules not published: Redis did not answer", exc_info=True)
    return raw
