"""Pure, deterministic generation of one visitor's sessions of raw events from a persona and a catalog.

Nothing here touches the database, Redis or the clock: the same seed, index, catalog
and window end give the same events, ids and timestamps, byte for byte. (A caller may hand
visitor_sessions a home shelf of its own, a real page's; then that shelf decides what is shown.)
"""

import math
import random
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from urllib.parse import quote_plus

from tracking.payloads import commerce_props, derived_event_id, ga4_item, raw_event
from tracking.registry import EventName, Source

from .personas import Persona, persona_for

# Fixed, so ids derived from (seed, counters) are the same on every machine and run.
NAMESPACE = uuid.UUID("5d6c1f2e-7a43-4b8e-9c51-3f0a9e2b6d17")
# Products on one listing page, as the storefront shows them (settings.CATALOG_PAGE_SIZE).
PAGE_SIZE = 24
# A new session starts after 30 minutes of silence (settings.TRACKING_SESSION_MINUTES);
# a minute more keeps simulated sessions apart whatever rounding a sessionizer does.
SESSION_GAP = timedelta(minutes=31)
# Seconds between two events of the same page (a scroll, an impression after the first).
ON_PAGE_PAUSE = (0.3, 4.0)
SCROLL_MARKS = (25, 50, 75, 100)
# Share of the cards below the first row that stay in view long enough to count as seen.
IMPRESSION_SEEN = 0.6
SIM_ORDER_PREFIX = "SIM-"  # a purchase's placeholder number until the shop's checkout gives it a real one
# Recommendation shelves and the algorithm each shows by default (personalization/slots.py).
# What fills them here is a stand-in, as CatalogSnapshot.search is for the search: nearby
# prices in the same category for "similar", the same department for "also bought", the
# visitor's favourite categories at home.
HOME_SHELF = ("home_recommended", "hybrid")
PRODUCT_SHELVES = (("product_similar", "content"), ("product_also_bought", "itemknn"))
SHELF_SEEN = 4  # the cards of a shelf in view at once
# Chance to open a shelf's card per unit of liking (see _liking): 3% for a card the shopper
# has no reason to like, four times that in a favourite category, which puts click-through
# near what shops report (2-10%).
SHELF_CLICK = 0.03
# Share of sessions that arrive from a campaign link, and the campaigns they come from.
CAMPAIGN_SHARE = 0.25
CAMPAIGNS = (
    ("newsletter", "email", "weekly-picks"),
    ("google", "cpc", "brand-search"),
    ("instagram", "social", "new-in"),
    ("partner-blog", "referral", "gift-guide"),
)
WORD = re.compile(r"[a-z]{4,}")
STOPWORDS = {"with", "from", "that", "this", "your", "than", "into", "over", "pack", "size"}


@dataclass(frozen=True)
class ProductFact:
    id: int
    slug: str
    title: str
    price: float
    on_sale: bool
    stock: int
    category_id: int
    department_id: int
    brand_id: int | None


@dataclass(frozen=True)
class NamedFact:
    """A category, department or brand: what a URL or a GA4 item field needs."""

    id: int
    slug: str
    name: str
    parent_id: int | None = None  # a category's department


class CatalogSnapshot:
    """The active catalog in memory, with the listings the engine draws from."""

    def __init__(
        self,
        *,
        products: list[ProductFact],
        categories: list[NamedFact],
        departments: list[NamedFact],
        brands: list[NamedFact],
        currency: str,
    ) -> None:
        # Listing order of "relevance" without a query is the catalog's own (by title).
        self.products = tuple(sorted(products, key=lambda p: (p.title, p.id)))
        self.categories = {c.id: c for c in categories}
        self.departments = {d.id: d for d in departments}
        self.brands = {b.id: b for b in brands}
        self.currency = currency
        self.by_id = {p.id: p for p in self.products}
        self.by_category: dict[int, list[ProductFact]] = {}
        self.by_department: dict[int, list[ProductFact]] = {}
        self.by_brand: dict[int, list[ProductFact]] = {}
        for product in self.products:
            self.by_category.setdefault(product.category_id, []).append(product)
            self.by_department.setdefault(product.department_id, []).append(product)
            if product.brand_id:
                self.by_brand.setdefault(product.brand_id, []).append(product)
        prices = sorted(p.price for p in self.products)
        self.median_price = prices[len(prices) // 2] if prices else 1.0
        self._search_text = [
            (
                f"{p.title} {self.categories[p.category_id].name} "
                f"{self.brands[p.brand_id].name if p.brand_id in self.brands else ''}"
            ).lower()
            for p in self.products
        ]

    @cached_property
    def category_ids(self) -> list[int]:
        return sorted(self.by_category)

    @cached_property
    def department_ids(self) -> list[int]:
        return sorted(self.by_department)

    def search(self, term: str) -> list[ProductFact]:
        """A stand-in for the shop's full-text search: title matches first, then the rest."""
        hits = [p for p, text in zip(self.products, self._search_text, strict=True) if term in text]
        return sorted(hits, key=lambda p: term not in p.title.lower())


@dataclass(frozen=True)
class SimEvent:
    """One raw event as the tracker (source web) or the shop's server (source server) sends it."""

    source: str
    raw: dict

    @property
    def name(self) -> str:
        return self.raw["name"]


@dataclass(frozen=True)
class SimSession:
    number: int
    session_id: uuid.UUID
    events: tuple[SimEvent, ...]

    @property
    def started_ms(self) -> int:
        return self.events[0].raw["ts"]

    @property
    def ended_ms(self) -> int:
        return self.events[-1].raw["ts"]


@dataclass(frozen=True)
class SimVisitor:
    index: int
    visitor_id: uuid.UUID
    persona: Persona
    login_as: str | None
    sessions: tuple[SimSession, ...]

    @property
    def events(self) -> list[SimEvent]:
        return [event for session in self.sessions for event in session.events]

    @property
    def orders(self) -> int:
        return sum(1 for event in self.events if event.name == EventName.PURCHASE)


@dataclass
class _VisitorState:
    """What a visitor carries from one session to the next."""

    favourite_categories: list[int]
    favourite_brands: list[int]
    cart: dict[int, int] = field(default_factory=dict)  # product id -> quantity
    bought: list[int] = field(default_factory=list)
    orders: int = 0


def event_id_for(name: str) -> uuid.UUID:
    """A deterministic id in the random (version 4) form the collector and the identity cookies
    accept, as a browser's would be: events, visitors and sessions alike."""
    return derived_event_id(NAMESPACE, name)


def visitor_id_for(*, seed: int, index: int) -> uuid.UUID:
    return event_id_for(f"{seed}/visitor/{index}")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class _Session:
    """Builds one session's events on a simulated clock."""

    def __init__(self, *, rng: random.Random, persona: Persona, catalog: CatalogSnapshot, prefix: str, start: datetime):
        self.rng = rng
        self.persona = persona
        self.catalog = catalog
        self.prefix = prefix
        self.clock = start
        self.events: list[SimEvent] = []
        self.viewed: set[int] = set()
        self.added = False

    def emit(
        self,
        name: str,
        *,
        source: str = Source.WEB,
        product: ProductFact | None = None,
        category_id: int | None = None,
        props: dict | None = None,
    ) -> None:
        if product is not None:
            category_id = category_id or product.category_id
        raw = raw_event(
            name,
            ts_ms=_ms(self.clock),
            event_id=event_id_for(f"{self.prefix}/{len(self.events)}"),
            product_id=product.id if product is not None else None,
            category_id=category_id,
            props=props,
        )
        self.events.append(SimEvent(source=source, raw=raw))
        self.pause()

    def pause(self, low: float | None = None, high: float | None = None) -> None:
        low, high = (low, high) if low is not None else ON_PAGE_PAUSE
        self.clock += timedelta(seconds=self.rng.uniform(low, high))

    def dwell(self) -> None:
        self.pause(*self.persona.dwell)

    def page(self, path: str, page_type: str, title: str) -> None:
        self.emit(EventName.PAGE_VIEW, props={"page_location": path, "page_title": title, "page_type": page_type})

    def item(self, product: ProductFact, *, index: int | None = None, quantity: int | None = None) -> dict:
        """A GA4 item as the storefront's dataLayer pushes it."""
        brand = self.catalog.brands.get(product.brand_id)
        return ga4_item(
            item_id=product.id,
            name=product.title,
            price=product.price,
            quantity=quantity,
            category=self.catalog.categories[product.category_id].name,
            brand=brand.name if brand is not None else None,
            index=index,
        )


def _weight(product: ProductFact, *, persona: Persona, state: _VisitorState, median: float, position: int) -> float:
    """How much a product on a listing draws this shopper's click."""
    weight = 1.0 / (1.0 + 0.08 * position)  # people click near the top
    if persona.price_sensitivity:
        weight *= min(20.0, (median / max(product.price, 0.01)) ** persona.price_sensitivity)
    if product.on_sale:
        weight *= persona.sale_attraction
    if state.favourite_brands:
        weight *= 8.0 if product.brand_id in state.favourite_brands else 0.25
    return weight


def _pick(rng: random.Random, candidates: list[ProductFact], weights: list[float], count: int) -> list[ProductFact]:
    """count distinct products, drawn by weight without replacement."""
    pool = list(zip(candidates, weights, strict=True))
    picked = []
    while pool and len(picked) < count:
        total = sum(weight for _, weight in pool)
        roll = rng.uniform(0, total)
        for position, (product, weight) in enumerate(pool):
            roll -= weight
            if roll <= 0 or position == len(pool) - 1:
                picked.append(product)
                del pool[position]
                break
    return picked


def _listing_for(
    session: _Session, state: _VisitorState, *, last_department: int | None
) -> tuple[list[ProductFact], str, str, str]:
    """Which listing the shopper opens: (products in page order, path, list name, page title)."""
    rng, persona, catalog = session.rng, session.persona, session.catalog
    if state.favourite_categories and rng.random() >= persona.wander:
        category = catalog.categories[rng.choice(state.favourite_categories)]
    elif persona.wander >= 1.0 or rng.random() < 0.25:
        # A department page, preferably another department than the last one (explorers jump).
        departments = [d for d in catalog.department_ids if d != last_department] or catalog.department_ids
        department = catalog.departments[rng.choice(departments)]
        products = list(catalog.by_department[department.id])
        if persona.sort == "price_asc":
            products.sort(key=lambda p: (p.price, p.id))
        path = f"/d/{department.slug}/" + ("?sort=price_asc" if persona.sort == "price_asc" else "")
        return products[:PAGE_SIZE], path, f"department:{department.slug}", department.name
    else:
        category = catalog.categories[rng.choice(catalog.category_ids)]
    products = list(catalog.by_category[category.id])
    query = []
    if state.favourite_brands and rng.random() < persona.brand_focus:
        in_category = [b for b in state.favourite_brands if any(p.brand_id == b for p in products)]
        if in_category:
            brand_filter = catalog.brands[rng.choice(in_category)]
            products = [p for p in products if p.brand_id == brand_filter.id]
            query.append(f"brand={brand_filter.slug}")
    if persona.sort == "price_asc":
        products.sort(key=lambda p: (p.price, p.id))
        query.append("sort=price_asc")
    path = f"/c/{category.slug}/" + ("?" + "&".join(query) if query else "")
    return products[:PAGE_SIZE], path, f"category:{category.slug}", category.name


def _search_for(session: _Session, state: _VisitorState) -> tuple[list[ProductFact], str, str] | None:
    """A search for something the shopper wants: (results in page order, path, term), or None."""
    rng, catalog = session.rng, session.catalog
    pool = [p for c in state.favourite_categories for p in catalog.by_category.get(c, [])]
    if state.favourite_brands:
        pool = [p for p in pool if p.brand_id in state.favourite_brands] or pool
    target = rng.choice(pool or list(catalog.products))
    words = [w for w in WORD.findall(target.title.lower()) if w not in STOPWORDS]
    term = rng.choice(words) if words else catalog.categories[target.category_id].name.lower()
    results = catalog.search(term)
    if not results:
        return None
    if session.persona.sort == "price_asc":
        results.sort(key=lambda p: (p.price, p.id))
    session.emit(EventName.SEARCH, props={"search_term": term, "results": len(results)})
    query = f"q={quote_plus(term)}" + ("&sort=price_asc" if session.persona.sort == "price_asc" else "")
    return results[:PAGE_SIZE], f"/search/?{query}", term


def _browse_listing(
    session: _Session, state: _VisitorState, *, products: list[ProductFact], path: str, list_name: str, title: str
) -> None:
    """Open a listing, scroll it, see impressions, open a few products and maybe act on them."""
    rng, persona, catalog = session.rng, session.persona, session.catalog
    session.page(path, "listing", title)
    session.emit(
        EventName.VIEW_ITEM_LIST,
        props={
            "item_list_name": list_name,
            "items": [session.item(p, index=i) for i, p in enumerate(products, start=1)],
        },
    )
    depth = rng.uniform(*persona.scroll_depth)
    # The first row (four cards) is visible without scrolling; deeper ones as the page scrolls.
    visible = products[: max(4, math.ceil(depth * len(products)))]
    marks = [mark for mark in SCROLL_MARKS if mark <= depth * 100]
    for index, product in enumerate(visible, start=1):
        # The tracker counts a card once it has been half visible for a second; cards
        # scrolled past faster than that make no impression.
        if index <= 4 or session.rng.random() < IMPRESSION_SEEN:
            session.emit(EventName.IMPRESSION, product=product, props={"item_list_name": list_name, "index": index})
        while marks and index * 100 >= marks[0] * len(products):
            session.emit(EventName.SCROLL, props={"percent": marks.pop(0)})
    for mark in marks:
        session.emit(EventName.SCROLL, props={"percent": mark})
    weights = [
        _weight(p, persona=persona, state=state, median=catalog.median_price, position=i) for i, p in enumerate(visible)
    ]
    opened = _pick(rng, visible, weights, rng.randint(*persona.views_per_listing))
    for product in opened:
        _view_product(session, state, product, list_name=list_name, index=products.index(product) + 1)
        session.dwell()


def _liking(product: ProductFact, state: _VisitorState) -> float:
    """How much this shopper likes a product for what it is: 1, four times in a favourite category,
    and for a shopper with favourite brands four times in one of them, a quarter in any other."""
    liking = 4.0 if product.category_id in state.favourite_categories else 1.0
    if state.favourite_brands:
        liking *= 4.0 if product.brand_id in state.favourite_brands else 0.25
    return liking


def _see_shelf(
    session: _Session, state: _VisitorState, *, shelf: tuple[str, str], products: list[ProductFact], depth: int
) -> None:
    """The shopper sees a recommendation shelf and opens one of its cards in proportion to liking it."""
    slot, algorithm = shelf
    shown = products[:SHELF_SEEN]
    for position, product in enumerate(shown, start=1):
        props = {"slot": slot, "algorithm": algorithm, "position": position, "item_list_name": slot}
        session.emit(EventName.IMPRESSION, product=product, props=props)
    for position, product in enumerate(shown, start=1):
        if session.rng.random() < SHELF_CLICK * _liking(product, state):
            props = {"slot": slot, "algorithm": algorithm, "position": position, "item_list_name": slot}
            session.emit(EventName.SELECT_ITEM, product=product, props=props)
            _view_product(session, state, product, list_name=None, index=None, depth=depth + 1)
            return


def _view_product(
    session: _Session,
    state: _VisitorState,
    product: ProductFact,
    *,
    list_name: str | None,
    index: int | None,
    depth: int = 0,
) -> None:
    rng, persona = session.rng, session.persona
    if list_name:
        session.emit(EventName.SELECT_ITEM, product=product, props={"item_list_name": list_name, "index": index or 1})
    session.page(f"/p/{product.slug}/", "product", product.title[:200])
    session.emit(
        EventName.VIEW_ITEM,
        product=product,
        props=commerce_props(currency=session.catalog.currency, items=[session.item(product)]),
    )
    session.viewed.add(product.id)
    if depth < 2:  # one shelf click leads to another at most
        catalog = session.catalog
        similar = sorted(
            (p for p in catalog.by_category[product.category_id] if p.id != product.id),
            key=lambda p: (abs(p.price - product.price), p.id),
        )
        nearby = [p for p in catalog.by_department[product.department_id] if p.category_id != product.category_id]
        also = rng.sample(nearby, min(SHELF_SEEN, len(nearby)))
        for shelf, products in zip(PRODUCT_SHELVES, (similar, also), strict=True):
            _see_shelf(session, state, shelf=shelf, products=products, depth=depth)
    session.dwell()
    if rng.random() < persona.p_wishlist:
        session.emit(
            EventName.ADD_TO_WISHLIST,
            product=product,
            props=commerce_props(currency=session.catalog.currency, items=[session.item(product)]),
        )
    chance = persona.p_add_to_cart
    if persona.price_sensitivity:
        # Price-sensitive shoppers put cheap things in the cart more readily than dear ones.
        chance *= min(2.0, (session.catalog.median_price / product.price) ** (persona.price_sensitivity / 2))
    if product.stock > 0 and rng.random() < chance:
        _add_to_cart(session, state, product)


def _add_to_cart(session: _Session, state: _VisitorState, product: ProductFact) -> None:
    # Every caller views the product first; a cart add out of the blue would teach the
    # recommenders a path no shopper takes.
    assert product.id in session.viewed
    in_cart = state.cart.get(product.id, 0)
    quantity = min(2 if session.rng.random() < 0.15 else 1, product.stock - in_cart)
    if quantity <= 0:
        return
    state.cart[product.id] = in_cart + quantity
    session.added = True
    session.emit(
        EventName.ADD_TO_CART,
        source=Source.SERVER,
        product=product,
        props=commerce_props(
            currency=session.catalog.currency, items=[session.item(product, quantity=quantity)], quantity=quantity
        ),
    )


def _cart_items(session: _Session, state: _VisitorState) -> list[dict]:
    lines = [(session.catalog.by_id[pid], qty) for pid, qty in sorted(state.cart.items())]
    return [ga4_item(item_id=p.id, name=p.title, price=p.price, quantity=q) for p, q in lines]


def _cart_and_checkout(session: _Session, state: _VisitorState, *, order_prefix: str) -> None:
    """End of a session: look at the cart, take things out, check out and maybe pay."""
    rng, persona, catalog = session.rng, session.persona, session.catalog
    if not state.cart:
        return
    wants_checkout = session.added and rng.random() < persona.p_begin_checkout
    removing = [pid for pid in sorted(state.cart) if rng.random() < persona.p_remove]
    if not (wants_checkout or removing):
        return  # the cart is left as it is: an abandoned cart
    session.page("/cart/", "cart", "Your cart")
    session.emit(
        EventName.VIEW_CART, props=commerce_props(currency=catalog.currency, items=_cart_items(session, state))
    )
    for pid in removing:
        product, quantity = catalog.by_id[pid], state.cart.pop(pid)
        session.emit(
            EventName.REMOVE_FROM_CART,
            source=Source.SERVER,
            product=product,
            props=commerce_props(
                currency=catalog.currency, items=[session.item(product, quantity=quantity)], quantity=quantity
            ),
        )
    if not (wants_checkout and state.cart and session.added):
        return
    items = _cart_items(session, state)
    session.emit(
        EventName.BEGIN_CHECKOUT, source=Source.SERVER, props=commerce_props(currency=catalog.currency, items=items)
    )
    session.page("/checkout/", "checkout", "Checkout")
    session.pause(20, 120)  # filling in the address and card
    if rng.random() >= persona.p_purchase:
        return
    state.orders += 1
    number = f"{SIM_ORDER_PREFIX}{uuid.uuid5(NAMESPACE, f'{order_prefix}/{state.orders}').hex[:12].upper()}"
    session.emit(
        EventName.PURCHASE,
        source=Source.SERVER,
        props=commerce_props(currency=catalog.currency, items=items, transaction_id=number),
    )
    session.page(f"/orders/{number}/", "order", f"Order {number}")
    for pid in state.cart:
        if pid not in state.bought:
            state.bought.append(pid)
    state.cart.clear()


def _session_events(
    session: _Session,
    state: _VisitorState,
    *,
    login_as: str | None,
    order_prefix: str,
    home_shelf: "HomeShelf | None" = None,
) -> list[SimEvent]:
    rng, persona, catalog = session.rng, session.persona, session.catalog
    landing = "/"
    if rng.random() < CAMPAIGN_SHARE:
        source, medium, campaign = rng.choice(CAMPAIGNS)
        landing = f"/?utm_source={source}&utm_medium={medium}&utm_campaign={campaign}"
    session.page(landing, "home", "Home")
    if home_shelf is None:
        liked = [p for c in state.favourite_categories for p in catalog.by_category.get(c, [])]
        pool = liked or list(catalog.products)
        products, algorithm = rng.sample(pool, min(SHELF_SEEN, len(pool))), HOME_SHELF[1]
    else:
        products, algorithm = home_shelf()
    if products:
        _see_shelf(session, state, shelf=(HOME_SHELF[0], algorithm), products=products, depth=0)
    session.dwell()
    if login_as:
        session.page("/account/login/", "account", "Sign in")
        session.emit(EventName.LOGIN, source=Source.SERVER, props={"method": "password"})
    if state.bought and rng.random() < persona.p_repeat:
        # A regular goes straight back to something they bought before, and buys it again.
        product = catalog.by_id[rng.choice(state.bought)]
        _view_product(session, state, product, list_name=None, index=None)
        if product.stock > 0 and product.id not in state.cart:
            _add_to_cart(session, state, product)
        session.dwell()
    last_department = None
    listings = rng.randint(*persona.listings)
    for number in range(listings):
        found = _search_for(session, state) if number == 0 and rng.random() < persona.p_search else None
        if found:
            products, path, term = found
            _browse_listing(session, state, products=products, path=path, list_name="search", title=f"Search: {term}")
            continue
        products, path, list_name, title = _listing_for(session, state, last_department=last_department)
        if products:
            last_department = products[0].department_id
            _browse_listing(session, state, products=products, path=path, list_name=list_name, title=title)
    _cart_and_checkout(session, state, order_prefix=order_prefix)
    return session.events


def _favourites(rng: random.Random, persona: Persona, catalog: CatalogSnapshot) -> tuple[list[int], list[int]]:
    """The visitor's own favourite categories and brands, drawn from the real catalog."""
    brands: list[int] = []
    if persona.favourite_brands and catalog.by_brand:
        # Popular brands (more products) are more likely to be somebody's favourite.
        brand_ids = sorted(catalog.by_brand)
        sizes = [len(catalog.by_brand[b]) for b in brand_ids]
        while len(brands) < min(persona.favourite_brands, len(brand_ids)):
            brand = rng.choices(brand_ids, weights=sizes)[0]
            if brand not in brands:
                brands.append(brand)
    categories: list[int] = []
    if persona.favourite_categories:
        # A loyalist's categories are where their brands are sold.
        pool = sorted({p.category_id for b in brands for p in catalog.by_brand[b]}) if brands else catalog.category_ids
        categories = rng.sample(pool, min(persona.favourite_categories, len(pool)))
    return categories, brands


# What the home page's recommendation shelf shows as a session begins: its products in order and the
# algorithm that chose them (a real page's, where the shop itself renders it); the engine's own
# stand-in (the visitor's favourite categories) when there is none.
HomeShelf = Callable[[], tuple[list[ProductFact], str]]


@dataclass(frozen=True)
class VisitorPlan:
    """Who the index-th visitor of a run is, before any session: what visitor_sessions yields for."""

    index: int
    visitor_id: uuid.UUID
    persona: Persona
    login_session: int  # the number of the session they sign in at; -1 for none


def visitor_sessions(
    *,
    seed: int,
    index: int,
    catalog: CatalogSnapshot,
    end: datetime,
    days: float,
    login_as: str | None = None,
    persona: Persona | None = None,
    home_shelf: HomeShelf | None = None,
) -> tuple[VisitorPlan, Iterator[SimSession]]:
    """The index-th visitor of a run and their sessions over (end - days, end], each built only
    when asked for: a caller can record one session (and let the shop learn from it) before the
    next one's home page is rendered by home_shelf.

    Sessions fall into equal slots of the window, each starting in the first half of
    its slot and at least SESSION_GAP after the previous one ended; a session that
    would end after `end` is dropped with those after it. With login_as, the visitor
    signs in at the start of their middle session.
    """
    if not catalog.products:
        raise ValueError("the catalog has no active products")
    persona = persona or persona_for(index=index)
    rng = random.Random(f"{seed}/{index}")
    categories, brands = _favourites(rng, persona, catalog)
    state = _VisitorState(favourite_categories=categories, favourite_brands=brands)
    planned = rng.randint(*persona.sessions)
    plan = VisitorPlan(
        index=index,
        visitor_id=visitor_id_for(seed=seed, index=index),
        persona=persona,
        login_session=planned // 2 if login_as else -1,
    )

    def sessions() -> Iterator[SimSession]:
        window = timedelta(days=days)
        slot = window / planned
        previous_end: datetime | None = None
        for number in range(planned):
            start = end - window + slot * number + slot * rng.uniform(0, 0.5)
            if previous_end is not None:
                start = max(start, previous_end + SESSION_GAP)
            prefix = f"{seed}/{index}/{number}"
            builder = _Session(rng=rng, persona=persona, catalog=catalog, prefix=prefix, start=start)
            events = _session_events(
                builder,
                state,
                login_as=login_as if number == plan.login_session else None,
                order_prefix=f"{seed}/{index}/order",
                home_shelf=home_shelf,
            )
            if builder.clock > end:
                return
            yield SimSession(number=number, session_id=event_id_for(f"{prefix}/session"), events=tuple(events))
            previous_end = builder.clock

    return plan, sessions()


def visitor_simulate(
    *,
    seed: int,
    index: int,
    catalog: CatalogSnapshot,
    end: datetime,
    days: float,
    login_as: str | None = None,
    persona: Persona | None = None,
) -> SimVisitor:
    """The index-th visitor of a run: their sessions over (end - days, end], every event in order
    (see visitor_sessions)."""
    plan, built = visitor_sessions(
        seed=seed, index=index, catalog=catalog, end=end, days=days, login_as=login_as, persona=persona
    )
    sessions = tuple(built)
    return SimVisitor(
        index=index,
        visitor_id=plan.visitor_id,
        persona=plan.persona,
        login_as=login_as if 0 <= plan.login_session < len(sessions) else None,
        sessions=sessions,
    )


def session_batches(session: SimSession, *, size: int, sources: tuple[str, ...] | None = None) -> list[list[SimEvent]]:
    """The session's events as the sinks send them: in order, each batch of one source and
    at most size events, a login always opening a batch (the user id applies from it on).

    With sources, only events of those sources are kept, and batches are cut by size alone.
    """
    batches: list[list[SimEvent]] = []
    for event in session.events:
        if sources is not None and event.source not in sources:
            continue
        current = batches[-1] if batches else None
        if (
            current is None
            or len(current) >= size
            or (sources is None and current[-1].source != event.source)
            or event.name == EventName.LOGIN
        ):
            batches.append([event])
        else:
            current.append(event)
    return batches
