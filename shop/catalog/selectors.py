"""Reads of the catalog: listings with filters and sort, search with its corrections and type-ahead, product detail."""

import dataclasses
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from typing import TypeVar
from urllib.parse import urlencode

from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramWordSimilarity
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Avg, Count, F, Prefetch, Q, QuerySet
from django.urls import reverse

from .kept import listing_kept
from .models import Brand, Category, Department, Product, ProductImage, Review
from .snapshot import CARDS_KEPT, CATALOGUE_KEPT, PAGES_KEPT, RELATED_ORDER, Kept, kept, remember

SORTS = {
    "relevance": None,
    "price_asc": ("price", "id"),
    "price_desc": ("-price", "id"),
    "newest": ("-created_at", "-id"),
    "name": ("title", "id"),
}
SORT_LABELS = {
    "relevance": "Featured",
    "price_asc": "Price: low to high",
    "price_desc": "Price: high to low",
    "newest": "Newest",
    "name": "Name",
}

# What a kept dict answers for a key it does not hold (None is held: "no such product").
_ABSENT = object()
T = TypeVar("T")


@dataclass(frozen=True)
class ProductFilters:
    category: Category | None = None
    department: Department | None = None
    brand_slugs: tuple[str, ...] = ()
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    in_stock: bool = False
    query: str = ""
    # The query with its typos corrected (search_correction), matched as well as the query.
    correction: str | None = None
    sort: str = "relevance"
    extra: dict = field(default_factory=dict)

    @property
    def narrowing(self) -> int:
        """How many filters narrow the listing (brands count one each), shown while the filters are folded."""
        bounds = (self.price_min, self.price_max)
        return len(self.brand_slugs) + sum(bound is not None for bound in bounds) + int(self.in_stock)


def _with_cards(queryset: QuerySet[Product], *, whole: bool = False) -> QuerySet[Product]:
    """What a product card needs, in a fixed number of queries whatever the page size; not the
    description or attributes, which a card never shows (whole: a product page's own product)."""
    queryset = queryset.select_related("brand", "category", "category__department").prefetch_related(
        Prefetch("images", queryset=ProductImage.objects.order_by("position", "id"))
    )
    return queryset if whole else queryset.defer("description", "attributes")


def _search(queryset: QuerySet[Product], query: str, correction: str | None, *, ranked: bool) -> QuerySet[Product]:
    if connection.vendor == "postgresql":
        search_query = SearchQuery(query, search_type="websearch", config="english")
        if correction:
            search_query |= SearchQuery(correction, search_type="websearch", config="english")
        queryset = queryset.filter(search_vector=search_query)
        return queryset.annotate(rank=SearchRank(F("search_vector"), search_query)) if ranked else queryset
    # The embedded SQLite has no full-text ranking: every word must appear somewhere.
    for word in query.split()[:8]:
        queryset = queryset.filter(
            Q(title__icontains=word) | Q(description__icontains=word) | Q(brand__name__icontains=word)
        )
    return queryset


# Words of a query that a correction may replace: letters and digits, as Postgres splits them.
WORD = re.compile(r"[^\W_]+")
# Shorter words are left alone: "or", "to", sizes, too short to tell a typo from another word.
MIN_CORRECTED_LENGTH = 3
# Most words a query may have corrected: a pasted paragraph is not a query worth correcting.
MAX_CORRECTED_WORDS = 8
# Trigram similarity a catalogue word needs to be considered as a correction at all. A swap of
# two letters in a short word shares few trigrams ("shrit" and "shirt" score 0.2), so this casts
# a wide net and the edit distance chooses.
CORRECTION_LIKENESS = 0.15

# For each asked word: whether it finds a product as it is (or is a stop word, which finds
# nothing but is no typo), and the catalogue's words that look like it (pg_trgm's % under the
# threshold above, served by the words' trigram index), with how many products have each. The
# catalogue's words are those of active products' titles (catalog_search_word, see migration
# 0004): a correction must be a word the search finds. One row per asked word, each word bound
# as a constant: words correlated from an array made the planner scan the products once per
# joined row (70 ms for two words instead of 8).
_KNOWN_SQL = """(%s::text, numnode(plainto_tsquery('english', %s)) = 0 OR EXISTS (
  SELECT 1 FROM catalog_product p WHERE p.is_active AND p.search_vector @@ plainto_tsquery('english', %s)))"""
_CORRECTION_SQL = """
WITH judged(word, known) AS MATERIALIZED (VALUES {rows})
SELECT judged.word, judged.known, w.word, w.products, similarity(judged.word, w.word)
FROM judged LEFT JOIN catalog_search_word w ON NOT judged.known AND w.word %% judged.word
"""
# The look-alike threshold for the query above only, sent with it: the statements of one simple
# query message run as one transaction, which is as long as set_config(..., true) lasts. One round
# trip instead of four (BEGIN, SET, the query, COMMIT).
_THRESHOLD_SQL = "SELECT set_config('pg_trgm.similarity_threshold', %s, true);"


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
    neighbouring letters each cost one, so "shrit" is one step from "shirt"."""
    before, row = None, list(range(len(b) + 1))
    for i, left in enumerate(a, start=1):
        current = [i]
        for j, right in enumerate(b, start=1):
            cost = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + (left != right))
            if before is not None and i > 1 and j > 1 and left == b[j - 2] and a[i - 2] == right:
                cost = min(cost, before[j - 2] + 1)
            current.append(cost)
        before, row = row, current
    return row[-1]


def _allowed_distance(word: str) -> int:
    # One slip in a short word, two in a longer one: beyond that a "correction" is another word.
    return 1 if len(word) <= 5 else 2


def search_correction(*, query: str) -> str | None:
    """The query with each word that finds nothing replaced by the catalogue's closest word
    ("linen shrit" -> "linen shirt"), or None when every word finds something or nothing close
    enough exists. Postgres only (pg_trgm finds the look-alikes); None on the embedded SQLite."""
    if connection.vendor != "postgresql":
        return None
    words = {word.lower() for word in WORD.findall(query) if len(word) >= MIN_CORRECTED_LENGTH and not word.isdigit()}
    words = sorted(words)[:MAX_CORRECTED_WORDS]
    if not words:
        return None
    with connection.cursor() as cursor:
        rows = ", ".join([_KNOWN_SQL] * len(words))
        cursor.execute(
            _THRESHOLD_SQL + _CORRECTION_SQL.format(rows=rows),
            [str(CORRECTION_LIKENESS), *(value for word in words for value in (word,) * 3)],
        )
        cursor.nextset()
        rows = cursor.fetchall()
    best: dict[str, tuple] = {}
    for asked, known, candidate, products, likeness in rows:
        if known or candidate is None:
            continue
        distance = edit_distance(asked, candidate)
        if distance > _allowed_distance(asked):
            continue
        rank = (distance, -likeness, -products, candidate)
        if asked not in best or rank < best[asked]:
            best[asked] = rank
    if not best:
        return None
    corrected = WORD.sub(lambda match: best.get(match.group().lower(), (None, None, None, match.group()))[3], query)
    return corrected if corrected.lower() != query.lower() else None


@dataclass(frozen=True)
class Suggestion:
    """One line of the search box's type-ahead: what it says, where it leads, what it is."""

    label: str
    url: str
    kind: str  # "category", "product" or "search"

    def as_json(self) -> dict[str, str]:
        return {"label": self.label, "url": self.url, "kind": self.kind}


def _most_alike(queryset: QuerySet, *, field: str, term: str) -> QuerySet:
    """On Postgres the names whose words begin like the term first ("sh": T-Shirts before
    Cushions), by pg_trgm's word similarity; alphabetical on the embedded SQLite."""
    if connection.vendor == "postgresql":
        return queryset.annotate(likeness=TrigramWordSimilarity(term, field)).order_by("-likeness", field, "id")
    return queryset.order_by(field, "id")


def search_suggestions(*, term: str, limit: int = 8) -> list[Suggestion]:
    """What to offer under the search box while a shopper types: categories, then products whose
    titles hold every word typed, the most alike first; before them, when they are few, a search
    for the term's correction, so a typo leads to what was meant."""
    term = term.strip()
    if not term:
        return []
    categories = _most_alike(Category.objects.filter(name__icontains=term), field="name", term=term)
    categories = categories[: max(1, limit // 4)]
    products = Product.objects.active().only("title", "slug")
    # Every word somewhere in the title, as typed so far: "wool cush" finds "Wool Blend Cushion".
    # On Postgres the title's trigram index answers each ILIKE (1 ms on 3,000 products).
    for word in term.split()[:MAX_CORRECTED_WORDS]:
        products = products.filter(title__icontains=word)
    products = _most_alike(products, field="title", term=term)
    found = [Suggestion(label=c.name, url=c.get_absolute_url(), kind="category") for c in categories]
    found += [Suggestion(label=p.title, url=p.get_absolute_url(), kind="product") for p in products[:limit]]
    # A term that fills the list is no typo worth the catalogue's look-alike words (and asking
    # spares most keystrokes that query).
    if len(found) < limit and (correction := search_correction(query=term)):
        search = f"{reverse('catalog:search')}?{urlencode({'q': correction})}"
        found.insert(0, Suggestion(label=correction, url=search, kind="search"))
    return found[:limit]


def _narrowed(filters: ProductFilters, *, ranked: bool) -> QuerySet[Product]:
    """The listing's products as its filters narrow them, in no order."""
    queryset = Product.objects.active()
    if filters.category is not None:
        queryset = queryset.filter(category=filters.category)
    elif filters.department is not None:
        queryset = queryset.filter(category__department=filters.department)
    if filters.brand_slugs:
        queryset = queryset.filter(brand__slug__in=filters.brand_slugs)
    if filters.price_min is not None:
        queryset = queryset.filter(price__gte=filters.price_min)
    if filters.price_max is not None:
        queryset = queryset.filter(price__lte=filters.price_max)
    if filters.in_stock:
        queryset = queryset.in_stock()
    if filters.query:
        queryset = _search(queryset, filters.query, filters.correction, ranked=ranked)
    return queryset


def product_list(*, filters: ProductFilters) -> QuerySet[Product]:
    queryset = _narrowed(filters, ranked=True)
    order = SORTS.get(filters.sort)
    if order is None:
        if filters.query and connection.vendor == "postgresql":
            order = ("-rank", "id")
        else:
            # Featured: what is in stock and on sale first, then by title.
            order = (F("has_stock").desc(), F("discounted").desc(nulls_last=True), "title", "id")
            queryset = queryset.annotate(
                has_stock=Q(stock__gt=0),
                discounted=Q(compare_at_price__gt=F("price")),
            )
    return _with_cards(queryset.order_by(*order))


@dataclass(frozen=True)
class BrandFacet:
    """A brand the listing has without its brand filter, and how many of its products."""

    pk: int
    name: str
    slug: str
    product_count: int


@dataclass(frozen=True)
class ListingFacets:
    brands: tuple[BrandFacet, ...]
    # Products in the listing with its brand filter too: what its pages show, counted.
    total: int


def listing_facets(*, filters: ProductFilters) -> ListingFacets:
    """The brand facets and the listing's product count from one query grouped by brand: a
    separate count and facet query each matched the listing's products again."""
    unbranded = dataclasses.replace(filters, brand_slugs=())
    groups = (
        _narrowed(unbranded, ranked=False)
        .values_list("brand_id", "brand__name", "brand__slug")
        .annotate(products=Count("pk"))
        .order_by("brand__name", "brand_id")
    )
    brands, total, chosen = [], 0, set(filters.brand_slugs)
    for pk, name, slug, products in groups:
        if pk is not None:
            brands.append(BrandFacet(pk=pk, name=name, slug=slug, product_count=products))
        # A brand filter keeps only its brands' products, so it drops those of no brand.
        if not chosen or slug in chosen:
            total += products
    return ListingFacets(brands=tuple(brands), total=total)


# The version, and whether this transaction has changed the catalogue itself (see migration 0006).
_VERSION_SQL = "SELECT number, current_setting('catalog.changed', true) = 'on' FROM catalog_version"


def catalog_version() -> int | None:
    """The catalogue's version, which every committed change to what a listing shows moves on; None
    when what is read now must not be kept: on the embedded SQLite, which has no version, and in a
    transaction that has changed the catalogue and not committed (no one else sees it yet)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(_VERSION_SQL)
        number, changed = cursor.fetchone()
    return None if changed else number


class CountedPaginator(Paginator):
    """A paginator told its count (the facets' query has it) rather than asking the database again."""

    def __init__(self, object_list, per_page: int, *, count: int):
        super().__init__(object_list, per_page)
        self.count = count


@dataclass(frozen=True)
class Listing:
    """A listing's page: its filters with the query's correction, its facets and count, its products."""

    filters: ProductFilters
    facets: ListingFacets
    page: Page


def _filters_key(filters: ProductFilters) -> tuple:
    return (
        filters.category.pk if filters.category else None,
        filters.department.pk if filters.department else None,
        filters.brand_slugs,
        filters.price_min,
        filters.price_max,
        filters.in_stock,
        filters.query,
        filters.sort,
    )


def _listing_head(filters: ProductFilters) -> tuple[ProductFilters, ListingFacets]:
    if filters.query:
        filters = dataclasses.replace(filters, correction=search_correction(query=filters.query))
    return filters, listing_facets(filters=filters)


def listing_read(*, filters: ProductFilters, page_number, per_page: int, version: int | None) -> Listing:
    """The page of a listing that page_number names (the first for a number that is none, the last
    for one past the end), kept for the catalogue's version: every visitor sees the same."""
    key = _filters_key(filters)
    filters, facets = listing_kept(version=version, key=("listing", *key), make=lambda: _listing_head(filters))
    paginator = CountedPaginator((), per_page, count=facets.total)
    number = paginator.get_page(page_number).number
    start = (number - 1) * per_page
    products = listing_kept(
        version=version,
        key=("listing-page", *key, per_page, number),
        make=lambda: list(product_list(filters=filters)[start : start + per_page]),
    )
    return Listing(filters=filters, facets=facets, page=Page(products, number, paginator))


def category_for_listing(*, slug: str, version: int | None) -> Category | None:
    queryset = Category.objects.select_related("department").filter(slug=slug)
    return listing_kept(version=version, key=("category", slug), make=queryset.first)


def department_for_listing(*, slug: str, version: int | None) -> Department | None:
    return listing_kept(version=version, key=("department", slug), make=Department.objects.filter(slug=slug).first)


def brand_slugs(*, version: int | None) -> list[str]:
    """Every brand's slug, which a listing's brand filter may name."""
    return listing_kept(
        version=version, key=("brand-slugs",), make=lambda: list(Brand.objects.values_list("slug", flat=True))
    )


def _kept() -> Kept | None:
    return kept(load=_catalogue_load)


def _catalogue_load() -> tuple[list[Product], list[Review]] | None:
    """Every active product with what its page and its cards show, newest first, and every
    published review of them, newest first: four queries once a version. None for a catalogue
    too large to hold whole, whose products are then kept as pages ask for them."""
    active = Product.objects.active()
    if active.count() > CATALOGUE_KEPT:
        return None
    products = list(_with_cards(active.order_by("-created_at", "-id"), whole=True))
    reviews = Review.objects.filter(is_published=True, product__is_active=True).select_related("user")
    return products, list(reviews.order_by("-created_at", "-id"))


def product_detail(*, slug: str) -> Product | None:
    held = _kept()
    if held is None:
        return _product_detail(slug)
    if held.complete:
        return held.by_slug.get(slug)
    return _page_kept(held, ("detail", slug), lambda: _product_detail(slug))


def _page_kept(held: Kept, key: tuple, make: Callable[[], T]) -> T:
    """What make() reads for a page, kept with a catalogue kept piecemeal (None is kept too)."""
    found = held.pages.get(key, _ABSENT)
    if found is _ABSENT:
        found = make()
        remember(held.pages, key, found, limit=PAGES_KEPT)
    return found


def _product_detail(slug: str) -> Product | None:
    return _with_cards(Product.objects.active().filter(slug=slug), whole=True).first()


def products_related(*, product: Product, limit: int = 8, exclude: Collection[int] = ()) -> list[Product]:
    """Other products of the same category, newest first, less exclude (what the page's
    personal shelves show already: a product on two shelves of one page is a wasted place)."""
    held = _kept()
    if held is None:
        return _products_related(product, limit, exclude)
    if held.complete:
        others = (
            other
            for other in held.by_category.get(product.category_id, ())
            if other.pk != product.pk and other.pk not in exclude
        )
        return list(islice(others, limit))
    # Kept by how many to read, not by what is left out: that differs for every visitor.
    wanted = limit + len(exclude)
    found = _page_kept(
        held, ("related", product.pk, product.category_id, wanted), lambda: _products_related(product, wanted, ())
    )
    return [other for other in found if other.pk not in exclude][:limit]


def _products_related(product: Product, limit: int, exclude: Collection[int]) -> list[Product]:
    queryset = Product.objects.active().in_stock().filter(category=product.category).exclude(pk=product.pk)
    if exclude:
        queryset = queryset.exclude(pk__in=list(exclude))
    return list(_with_cards(queryset.order_by(*RELATED_ORDER))[:limit])


def products_newest(*, limit: int = 8) -> list[Product]:
    held = _kept()
    if held is None:
        return list(_with_cards(_sellable_newest_first())[:limit])
    wanted = _sellable_newest(held)[:limit]
    cards = products_for_cards(ids=set(wanted))
    return [cards[pk] for pk in wanted if pk in cards]


def _sellable_newest_first() -> QuerySet[Product]:
    return Product.objects.active().in_stock().order_by("-created_at", "-id")


def _sellable_newest(held: Kept) -> tuple[int, ...]:
    """The ids of every product that can be bought now, newest first: one query a version."""
    newest = held.newest
    if newest is None:
        newest = tuple(_sellable_newest_first().values_list("pk", flat=True))
        held.sellable = frozenset(newest)
        held.newest = newest  # after sellable: a reader that sees newest finds sellable made
    return newest


def products_sellable_ids(*, ids: set[int]) -> set[int]:
    """Which of these products can be bought now (active, in stock), asked on ids alone."""
    held = _kept()
    if held is None:
        return set(Product.objects.active().in_stock().filter(pk__in=ids).values_list("pk", flat=True))
    _sellable_newest(held)
    return set(ids) & held.sellable


def products_prices(*, ids: set[int]) -> dict[int, tuple[Decimal, int]]:
    """Price and category of each of these products, for what a rule asks of a cart."""
    return {
        pk: (price, category)
        for pk, price, category in Product.objects.filter(pk__in=ids).values_list("pk", "price", "category_id")
    }


def products_newest_ids(*, exclude: set[int], limit: int) -> list[int]:
    held = _kept()
    if held is None:
        return list(_sellable_newest_first().exclude(pk__in=exclude).values_list("pk", flat=True)[:limit])
    return list(islice((pk for pk in _sellable_newest(held) if pk not in exclude), limit))


def products_for_cards(*, ids: set[int]) -> dict[int, Product]:
    """Products by id with what their cards show, for shelves chosen elsewhere. Kept ones are
    shared: a caller that tags a product for its shelf tags a copy."""
    held = _kept()
    if held is None:
        return _with_cards(Product.objects.all()).in_bulk(ids)
    found, missing = {}, set()
    for pk in ids:
        product = held.cards.get(pk, _ABSENT)
        if product is _ABSENT:
            missing.add(pk)
        elif product is not None:
            found[pk] = product
    if missing:  # inactive products (a shelf "because" of one), or a catalogue kept piecemeal
        loaded = _with_cards(Product.objects.all()).in_bulk(missing)
        for pk in missing:
            remember(held.cards, pk, loaded.get(pk), limit=CARDS_KEPT)
        found.update(loaded)
    return found


def products_by_sku() -> dict[str, tuple[int, int]]:
    """Every product by upper-cased SKU: (product id, category id), for importers of event logs."""
    return {
        sku.upper(): (pk, category) for sku, pk, category in Product.objects.values_list("sku", "pk", "category_id")
    }


@dataclass(frozen=True)
class RatingSummary:
    average: float | None
    count: int


def product_reviews(*, product: Product, limit: int = 20) -> tuple[RatingSummary, list[Review]]:
    """The product's rating over all its published reviews, and the newest of them; most products
    have fewer than limit, and then one query gives both."""
    held = _kept()
    if held is None:
        return _product_reviews(product, limit)
    if held.complete:
        return _rating_of(held.reviews.get(product.pk, []), limit=limit)
    rating, reviews = _page_kept(held, ("reviews", product.pk, limit), lambda: _product_reviews(product, limit))
    return rating, list(reviews)


def _product_reviews(product: Product, limit: int) -> tuple[RatingSummary, list[Review]]:
    reviews = list(product.reviews.filter(is_published=True).select_related("user")[: limit + 1])
    if len(reviews) <= limit:
        return _rating_of(reviews, limit=limit)
    stats = product.reviews.filter(is_published=True).aggregate(average=Avg("rating"), count=Count("id"))
    return _rating(stats["average"], stats["count"]), reviews[:limit]


def _rating_of(reviews: list[Review], *, limit: int) -> tuple[RatingSummary, list[Review]]:
    """The rating over these reviews (all the product's published ones), and the first limit of them."""
    count = len(reviews)
    return _rating(sum(review.rating for review in reviews) / count if count else None, count), reviews[:limit]


def _rating(average: float | None, count: int) -> RatingSummary:
    return RatingSummary(average=round(average, 1) if average else None, count=count)


def review_ratings() -> QuerySet:
    """(user id, product id, stars) of every published review, for rating-based recommenders."""
    return Review.objects.filter(is_published=True).values_list("user_id", "product_id", "rating")


def reviews_awaiting_moderation() -> int:
    """How many reviews wait for staff to publish them."""
    return Review.objects.filter(is_published=False).count()
