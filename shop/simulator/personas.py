"""Shopper personas: who the simulated visitors are and how each kind behaves.

Every persona is a set of numbers the engine reads; none holds code. Favourite
categories and brands are not named here: each visitor draws their own from the real
catalog (see engine.visitor_simulate), the persona only says how many and how firmly
they stick to them.

bargain_hunter
    Sorts listings by price, opens cheap and on-sale items, fills a cart and then often
    walks away from it (or takes items out again); when they buy, they buy cheap.
brand_loyalist
    Sticks to one or two brands (brand-filtered listings, nearly every view within
    them), looks at few items and buys most of what they put in the cart.
window_shopper
    Many sessions, many listings, long scrolls, many product views; almost never adds
    to the cart and rarely buys.
mission_shopper
    Comes with a purpose: searches, opens one to three results, adds, checks out at
    once. Few sessions, short ones.
gift_explorer
    Jumps across departments with no favourite category, saves items to the wishlist,
    buys now and then.
loyal_regular
    A returning customer: many short sessions in a few favourite categories, and buys
    again what they bought before (repeat purchases).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Persona:
    """How one kind of shopper behaves; probabilities are per chance to act (0..1)."""

    key: str
    label: str
    # Sessions per visitor over the simulated window, inclusive range.
    sessions: tuple[int, int]
    # Listing pages (category, department or search results) per session.
    listings: tuple[int, int]
    # Products opened from one listing page, inclusive range (before the cart step).
    views_per_listing: tuple[int, int]
    # How many favourite categories the visitor draws, and the chance a listing leaves them.
    favourite_categories: int
    wander: float
    # How many favourite brands; brand_focus is the chance a listing is filtered to one of them.
    favourite_brands: int
    brand_focus: float
    # 0 ignores price; higher prefers cheaper items as (median price / price) ** price_sensitivity.
    price_sensitivity: float
    # How much more an on-sale item attracts than a full-price one.
    sale_attraction: float
    sort: str  # the listing sort the shopper picks: relevance or price_asc
    p_search: float  # a session starts with a search rather than a category page
    # How far down a listing the shopper scrolls (fraction of the page), inclusive range.
    scroll_depth: tuple[float, float]
    p_add_to_cart: float  # after viewing a product in stock
    p_wishlist: float  # after viewing a product
    p_remove: float  # per cart line at the end of a session
    p_begin_checkout: float  # with a non-empty cart and something added this session
    p_purchase: float  # after beginning checkout
    p_repeat: float = 0.0  # at a session's start, re-buys something bought before
    # Seconds spent on one page, inclusive range.
    dwell: tuple[int, int] = (4, 60)
    # Share of the persona in a mixed population (see PERSONA_CYCLE).
    weight: int = 1


BARGAIN_HUNTER = Persona(
    key="bargain_hunter",
    label="Bargain hunter",
    sessions=(2, 5),
    listings=(2, 4),
    views_per_listing=(1, 4),
    favourite_categories=3,
    wander=0.2,
    favourite_brands=0,
    brand_focus=0.0,
    price_sensitivity=2.0,
    sale_attraction=4.0,
    sort="price_asc",
    p_search=0.15,
    scroll_depth=(0.5, 1.0),
    p_add_to_cart=0.2,
    p_wishlist=0.05,
    p_remove=0.3,
    p_begin_checkout=0.35,
    p_purchase=0.6,
    dwell=(3, 40),
    weight=2,
)

BRAND_LOYALIST = Persona(
    key="brand_loyalist",
    label="Brand loyalist",
    sessions=(2, 4),
    listings=(1, 3),
    views_per_listing=(1, 3),
    favourite_categories=2,
    wander=0.05,
    favourite_brands=2,
    brand_focus=0.95,
    price_sensitivity=0.0,
    sale_attraction=1.0,
    sort="relevance",
    p_search=0.1,
    scroll_depth=(0.25, 0.75),
    p_add_to_cart=0.45,
    p_wishlist=0.05,
    p_remove=0.05,
    p_begin_checkout=0.85,
    p_purchase=0.9,
    dwell=(5, 70),
)

WINDOW_SHOPPER = Persona(
    key="window_shopper",
    label="Window shopper",
    sessions=(3, 5),
    listings=(2, 4),
    views_per_listing=(2, 5),
    favourite_categories=4,
    wander=0.35,
    favourite_brands=0,
    brand_focus=0.0,
    price_sensitivity=0.3,
    sale_attraction=1.5,
    sort="relevance",
    p_search=0.1,
    scroll_depth=(0.75, 1.0),
    p_add_to_cart=0.015,
    p_wishlist=0.04,
    p_remove=0.4,
    p_begin_checkout=0.2,
    p_purchase=0.4,
    dwell=(8, 120),
    weight=3,
)

MISSION_SHOPPER = Persona(
    key="mission_shopper",
    label="Mission shopper",
    sessions=(1, 2),
    listings=(1, 1),
    views_per_listing=(1, 3),
    favourite_categories=1,
    wander=0.0,
    favourite_brands=0,
    brand_focus=0.0,
    price_sensitivity=0.5,
    sale_attraction=1.0,
    sort="relevance",
    p_search=0.95,
    scroll_depth=(0.0, 0.25),
    p_add_to_cart=0.6,
    p_wishlist=0.0,
    p_remove=0.05,
    p_begin_checkout=0.9,
    p_purchase=0.9,
    dwell=(3, 25),
    weight=2,
)

GIFT_EXPLORER = Persona(
    key="gift_explorer",
    label="Gift buyer / explorer",
    sessions=(2, 4),
    listings=(3, 5),
    views_per_listing=(1, 3),
    favourite_categories=0,
    wander=1.0,
    favourite_brands=0,
    brand_focus=0.0,
    price_sensitivity=0.2,
    sale_attraction=1.2,
    sort="relevance",
    p_search=0.3,
    scroll_depth=(0.25, 1.0),
    p_add_to_cart=0.12,
    p_wishlist=0.35,
    p_remove=0.15,
    p_begin_checkout=0.5,
    p_purchase=0.7,
    dwell=(5, 60),
)

LOYAL_REGULAR = Persona(
    key="loyal_regular",
    label="Loyal regular",
    sessions=(4, 8),
    listings=(1, 2),
    views_per_listing=(1, 2),
    favourite_categories=2,
    wander=0.1,
    favourite_brands=0,
    brand_focus=0.0,
    price_sensitivity=0.5,
    sale_attraction=1.2,
    sort="relevance",
    p_search=0.2,
    scroll_depth=(0.25, 0.5),
    p_add_to_cart=0.35,
    p_wishlist=0.05,
    p_remove=0.05,
    p_begin_checkout=0.7,
    p_purchase=0.85,
    p_repeat=0.45,
    dwell=(3, 30),
)

PERSONAS: dict[str, Persona] = {
    persona.key: persona
    for persona in (BARGAIN_HUNTER, BRAND_LOYALIST, WINDOW_SHOPPER, MISSION_SHOPPER, GIFT_EXPLORER, LOYAL_REGULAR)
}


def _cycle() -> tuple[Persona, ...]:
    """One of each first, so even a run of six visitors meets every persona; then the
    extra shares of the heavier personas, so a large run has the weighted mix."""
    order = list(PERSONAS.values())
    for persona in PERSONAS.values():
        order.extend([persona] * (persona.weight - 1))
    return tuple(order)


PERSONA_CYCLE = _cycle()


def persona_for(*, index: int) -> Persona:
    """The persona of the index-th visitor of a run: a fixed cycle, so it never depends
    on how many visitors the run has."""
    return PERSONA_CYCLE[index % len(PERSONA_CYCLE)]
