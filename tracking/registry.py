"""The one registry of event names and their fields; every event is checked against it."""

from dataclasses import dataclass, field
from functools import cached_property

from django.db import models


class EventName(models.TextChoices):
    PAGE_VIEW = "page_view", "Page view"
    VIEW_ITEM_LIST = "view_item_list", "Item list viewed"
    VIEW_ITEM = "view_item", "Product viewed"
    SELECT_ITEM = "select_item", "Item selected"
    IMPRESSION = "impression", "Product impression"
    CLICK = "click", "Click"
    SCROLL = "scroll", "Scroll depth"
    SEARCH = "search", "Search"
    ADD_TO_CART = "add_to_cart", "Added to cart"
    REMOVE_FROM_CART = "remove_from_cart", "Removed from cart"
    VIEW_CART = "view_cart", "Cart viewed"
    BEGIN_CHECKOUT = "begin_checkout", "Checkout begun"
    PURCHASE = "purchase", "Purchase"
    ADD_TO_WISHLIST = "add_to_wishlist", "Added to wishlist"
    VIDEO_PLAY = "video_play", "Video played"
    MICRO_CONVERSION = "micro_conversion", "Micro-conversion"
    LOGIN = "login", "Login"
    SIGN_UP = "sign_up", "Sign-up"
    EXPERIMENT_EXPOSURE = "experiment_exposure", "Experiment variant shown"
    VIEW_PROMOTION = "view_promotion", "Promotion seen"
    SELECT_PROMOTION = "select_promotion", "Promotion clicked"


class Source(models.TextChoices):
    WEB = "web", "Browser tracker"
    SERVER = "server", "Server"
    IMPORT = "import", "Import"


# Property types the registry can ask for; each maps to the Python types JSON gives.
STR, INT, NUM, BOOL, LIST = "str", "int", "num", "bool", "list"
PYTHON_TYPES = {STR: (str,), INT: (int,), NUM: (int, float), BOOL: (bool,), LIST: (list,)}


@dataclass(frozen=True)
class EventSpec:
    """What one event must and may carry, beyond the envelope every event has."""

    required: dict[str, str] = field(default_factory=dict)
    optional: dict[str, str] = field(default_factory=dict)
    needs_product: bool = False
    # Only the server may send these: money and identity events are authoritative there.
    server_only: bool = False

    @cached_property
    def fields(self) -> dict[str, str]:
        """Every property the event may carry, with its kind: the common ones and its own."""
        return {**COMMON, **self.required, **self.optional}

    @cached_property
    def python_types(self) -> dict[str, tuple[type, ...]]:
        """fields with the Python types JSON gives for each kind, for the hot path of validation."""
        return {key: PYTHON_TYPES[kind] for key, kind in self.fields.items()}


# Properties any event may carry (GA4-like page context).
COMMON = {
    "page_location": STR,
    "page_title": STR,
    "page_type": STR,
    "page_referrer": STR,
    "item_list_id": STR,
    # desktop, phone or tablet as the tracker judged it (never the user agent): what device segments read.
    "device": STR,
}
ITEM = {"item_list_name": STR, "index": INT, "slot": STR, "algorithm": STR, "position": INT, "price": NUM}
MONEY = {"currency": STR, "value": NUM, "items": LIST}
# A content block or offer a merchandising rule placed: "rule:<id>" or "block:<id>", as GA4 names them.
PROMOTION = {"promotion_id": STR, "promotion_name": STR, "creative_slot": STR}

# Inclusive bounds of every number an event may carry, in its properties or its items. A number
# past them is a forged or broken event, and a live profile cannot hold it (Redis counts in
# 64-bit integers: a quantity of 1e20 made the profile update fail, then the rebuild).
MAX_QUANTITY = 10_000  # units of one product in one action; the cart holds at most CART_MAX_QUANTITY (99)
MAX_POSITION = 100_000  # a place in a list or slot: page 4,000 of a 24-product listing
MAX_COUNT = 10_000_000  # search results: far beyond any catalogue this shop serves
MAX_MONEY = 10_000_000_000  # an order's total is a 12-digit decimal with two places, so below 10^10
NUMBER_RANGES: dict[str, tuple[int, int]] = {
    "quantity": (1, MAX_QUANTITY),
    "index": (0, MAX_POSITION),
    "position": (0, MAX_POSITION),
    "percent": (0, 100),
    "results": (0, MAX_COUNT),
    "price": (0, MAX_MONEY),
    "value": (0, MAX_MONEY),
    "day": (0, 100_000),  # days since 1970 (an experiment exposure's): until the year 2243
    "propensity": (0, 1),  # the chance an experiment's placement had
}

REGISTRY: dict[str, EventSpec] = {
    EventName.PAGE_VIEW: EventSpec(),
    EventName.VIEW_ITEM_LIST: EventSpec(optional={"items": LIST, "item_list_name": STR}),
    EventName.VIEW_ITEM: EventSpec(needs_product=True, optional={**ITEM, **MONEY}),
    EventName.SELECT_ITEM: EventSpec(needs_product=True, optional=ITEM),
    EventName.VIEW_PROMOTION: EventSpec(required={"promotion_id": STR}, optional=PROMOTION),
    EventName.SELECT_PROMOTION: EventSpec(required={"promotion_id": STR}, optional=PROMOTION),
    EventName.IMPRESSION: EventSpec(needs_product=True, optional=ITEM),
    EventName.CLICK: EventSpec(required={"target": STR}, optional={**ITEM, "label": STR}),
    EventName.SCROLL: EventSpec(required={"percent": INT}),
    EventName.SEARCH: EventSpec(required={"search_term": STR}, optional={"results": INT}),
    EventName.ADD_TO_CART: EventSpec(needs_product=True, optional={**ITEM, **MONEY, "quantity": INT}),
    EventName.REMOVE_FROM_CART: EventSpec(needs_product=True, optional={**MONEY, "quantity": INT}),
    EventName.VIEW_CART: EventSpec(optional=MONEY),
    EventName.BEGIN_CHECKOUT: EventSpec(optional=MONEY),
    EventName.PURCHASE: EventSpec(
        required={"transaction_id": STR, "value": NUM}, optional={**MONEY, "coupon": STR}, server_only=True
    ),
    EventName.ADD_TO_WISHLIST: EventSpec(needs_product=True, optional={**ITEM, **MONEY}),
    EventName.VIDEO_PLAY: EventSpec(required={"video": STR}, optional={"percent": INT}),
    EventName.MICRO_CONVERSION: EventSpec(required={"action": STR}, optional={"label": STR, "value": NUM}),
    EventName.LOGIN: EventSpec(optional={"method": STR}, server_only=True),
    EventName.SIGN_UP: EventSpec(optional={"method": STR}, server_only=True),
    # Recorded by the server when a page renders an experiment's variant, once per visitor,
    # experiment and UTC day (days since 1970, in the event and in its derived event id).
    EventName.EXPERIMENT_EXPOSURE: EventSpec(
        required={"experiment": STR, "variant": STR, "day": INT},
        # policy: "split" or "bandit"; propensity: the chance the variant had; mark: what a day's
        # exposure is counted once by (the experiment, or under a bandit the arm too)
        optional={"slot": STR, "policy": STR, "propensity": NUM, "mark": STR},
        server_only=True,
    ),
}
