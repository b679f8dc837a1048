"""The slot stages of merchandising: which rules fire on this page, then their effects on the shelves.

RulesDecide runs right after the experiments' variants (a rule may ask for a variant) and
keeps the decision in PageFill.shared for the content slots' template tag and the later stages;
RuleEffects (exclude, boost, bury) runs before the shelves are cut to size, RulePins after
exploration, so a pinned product is where the merchandiser put it.
"""

import json
import logging
from functools import cache

from django.utils import timezone
from redis.exceptions import RedisError

from experiments.stages import page_assignment
from personalization.serving.stages import Candidate, PageFill, SlotFill, Stage
from shop.catalog.selectors import products_prices, products_sellable_ids
from shop.keyspace import merch_shown_key, redis_client, utc_day

from .engine import SITE_SLOT, Action, Decision, Facts, decide, index_of
from .models import CONTENT_SLOT_PAGES
from .services import rules_publish
from .timers import timer_due

logger = logging.getLogger(__name__)

DECISION = "merchandising.decision"
# Showings are counted for two days: a cap reads today's count only.
SHOWN_TTL = 2 * 86_400


def page_decision(page: PageFill) -> Decision | None:
    return page.shared.get(DECISION)


def _fired(state, now_ms: int) -> dict[int, str]:
    """The owner's event rules showing now: fired ones still within their time, and pending
    timers already due (so a due timer shows even while no worker has fired it)."""
    fired: dict[int, str] = {}
    try:
        for field, raw in state.timers.items():
            rule_id, _, subject = field.decode().partition("|")
            if timer_due(raw) <= now_ms:
                fired[int(rule_id)] = subject
        for field, raw in state.fired.items():
            entry = json.loads(raw)
            if entry["until"] > now_ms:
                fired[int(field)] = entry["subject"]
    except (ValueError, KeyError, TypeError):
        # Not what timers.py writes: a hand edit. The page shows what parsed so far.
        logger.warning("unreadable merchandising timers in Redis", exc_info=True)
    return fired


def _cart_cents(cart: dict[int, int], prices: dict) -> int:
    return sum(round(prices[pid][0] * 100) * quantity for pid, quantity in cart.items() if pid in prices)


def _variants(page: PageFill) -> dict[str, str]:
    assignment = page_assignment(page)
    if assignment is None:
        return {}
    return {placed.experiment.name: placed.variant.key for placed in assignment.by_slot.values()}


def content_slots(page: str) -> tuple[str, ...]:
    return (SITE_SLOT, *[slot for slot, on in CONTENT_SLOT_PAGES.items() if on == page])


class RulesDecide(Stage):
    """Works out which rules fire for this visitor on this page and counts the capped ones' showings."""

    name = "rules"

    def apply(self, page: PageFill) -> None:
        state = page.state
        if state is None:
            return
        raw = state.rules if state.rules is not None else rules_publish().encode()
        index = index_of(raw)
        now = timezone.now()
        profile = page.profile
        cart = dict(profile.cart) if profile is not None else {}
        # Asked at most once a page, however many rules ask about the cart or a product's stock.
        prices = cache(lambda: products_prices(ids=set(cart)))
        facts = Facts(
            page=page.page,
            product=page.page_products[0] if page.page == "product" and page.page_products else None,
            category=page.category_id,
            term=page.search_term.strip().casefold() if page.search_term else None,
            segments=state.segments,
            cart=cart,
            device=page.device,
            now=now,
            fired=_fired(state, int(now.timestamp() * 1000)),
            shown_today={int(rule): int(count) for rule, count in state.shown.items()},
            cart_value_of=lambda cart: _cart_cents(cart, prices()),
            cart_categories_of=lambda cart: {category for _, category in prices().values()},
            in_stock_of=cache(lambda product: bool(products_sellable_ids(ids={product}))),
            variants_of=lambda: _variants(page),
        )
        decision = decide(index, facts, content_slots=content_slots(page.page))
        page.shared[DECISION] = decision
        capped = {verdict.rule.id for verdict in decision.fired if verdict.rule.cap is not None}
        if capped and profile is not None:
            key = merch_shown_key(profile.owner, utc_day(now))
            pipe = redis_client().pipeline(transaction=False)
            for rule_id in sorted(capped):
                pipe.hincrby(key, str(rule_id), 1)
            pipe.expire(key, SHOWN_TTL)
            try:
                pipe.execute()
            except RedisError:
                logger.warning("rule showings not counted: Redis did not answer")


def _targets(action: Action, subject: str) -> tuple[set[int], int | None]:
    products = set(action.products)
    if action.subject_product and subject.isdigit():
        products.add(int(subject))
    return products, action.category


def _matches(candidate: Candidate, products: set[int], category: int | None) -> bool:
    return candidate.product_id in products or (category is not None and candidate.category == category)


def _fills(page: PageFill, action: Action) -> list[SlotFill]:
    return [fill for fill in page.slots if not action.slot or fill.slot.name == action.slot]


class RuleEffects(Stage):
    """Exclude, boost and bury: applied to the candidates before the shelves are cut to size."""

    name = "rule effects"

    def apply(self, page: PageFill) -> None:
        decision = page_decision(page)
        if decision is None:
            return
        for rule, action, subject in decision.effects:
            if action.kind not in ("exclude", "boost", "bury"):
                continue
            products, category = _targets(action, subject)
            if action.kind == "exclude" and not action.slot:
                page.left_out |= products
            for fill in _fills(page, action):
                hit = [c for c in fill.candidates if _matches(c, products, category)]
                if not hit:
                    continue
                rest = [c for c in fill.candidates if not _matches(c, products, category)]
                fill.candidates = {"exclude": rest, "boost": hit + rest, "bury": rest + hit}[action.kind]
                fill.note(self, f"“{rule.name}”: {action.kind} {len(hit)}")


class RulePins(Stage):
    """Pins: each pinned product at its position (if it can be bought and the page does not
    already show it as what it is about), the shelf kept to its size. A category excluded is
    taken off again here, where the fallback may have added one of its newest products."""

    name = "rule pins"

    def apply(self, page: PageFill) -> None:
        decision = page_decision(page)
        if decision is None:
            return
        self._categories_out(page, decision)
        pins = [(rule, action, subject) for rule, action, subject in decision.effects if action.kind == "pin"]
        if not pins:
            return
        wanted = {pid for _, action, subject in pins for pid in _targets(action, subject)[0]}
        sellable = products_sellable_ids(ids=wanted) - page.excluded
        for rule, action, subject in pins:
            products = sorted(_targets(action, subject)[0] & sellable)
            for fill in _fills(page, action):
                shown = [c for c in fill.shown if c.product_id not in products]
                at = min(action.position - 1, len(shown))
                pinned = [Candidate(product_id=pid, algorithm=f"rule:{rule.id}") for pid in products]
                fill.shown = (shown[:at] + pinned + shown[at:])[: fill.settings.size]
                if pinned:
                    fill.note(self, f"“{rule.name}”: pinned {len(pinned)} at {action.position}")

    def _categories_out(self, page: PageFill, decision: Decision) -> None:
        out = [action for _, action, _ in decision.effects if action.kind == "exclude" and action.category]
        if not out:
            return
        categories = {
            pid: category
            for pid, (_, category) in products_prices(
                ids={c.product_id for fill in page.slots for c in fill.shown}
            ).items()
        }
        for action in out:
            for fill in _fills(page, action):
                fill.shown = [c for c in fill.shown if categories.get(c.product_id) != action.category]
