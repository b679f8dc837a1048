"""Reads of the catalog: listings with filters and sort, search, product detail."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import Avg, Count, F, Prefetch, Q, QuerySet

from .models import Brand, Category, Department, Product, ProductImage, Review

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


@dataclass(frozen=True)
class ProductFilters:
    category: Category | None = None
    department: Department | None = None
    brand_slugs: tuple[str, ...] = ()
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    in_stock: bool = False
    query: str = ""
    sort: str = "relevance"
    extra: dict = field(default_factory=dict)


def _with_cards(queryset: QuerySet[Product]) -> QuerySet[Product]:
    """What a product card needs, in a fixed number of queries whatever the page size."""
    return queryset.select_related("brand", "category", "category__department").prefetch_related(
        Prefetch("images", queryset=ProductImage.objects.order_by("position", "id"))
    )


def _search(queryset: QuerySet[Product], query: str) -> QuerySet[Product]:
    if connection.vendor == "postgresql":
        search_query = SearchQuery(query, search_type="websearch", config="english")
        return queryset.filter(search_vector=search_query).annotate(rank=SearchRank(F("search_vector"), search_query))
    # The embedded SQLite has no full-text ranking: every word must appear somewhere.
    for word in query.split()[:8]:
        queryset = queryset.filter(
            Q(title__icontains=word) | Q(description__icontains=word) | Q(brand__name__icontains=word)
        )
    return queryset


def product_list(*, filters: ProductFilters) -> QuerySet[Product]:
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
        queryset = _search(queryset, filters.query)
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


def brand_facets(*, filters: ProductFilters) -> list[Brand]:
    """Brands present in the listing without the brand filter, with their product counts."""
    base = product_list(filters=ProductFilters(**{**filters.__dict__, "brand_slugs": (), "sort": "name"}))
    # filter() before annotate() makes the count run over the filtered join only.
    return list(
        Brand.objects.filter(products__in=base.values("pk")).annotate(product_count=Count("products")).order_by("name")
    )


def product_detail(*, slug: str) -> Product | None:
    return _with_cards(Product.objects.active().filter(slug=slug)).first()


def products_related(*, product: Product, limit: int = 8) -> list[Product]:
    """Other products of the same category, for a product page that has no personal blocks yet."""
    queryset = Product.objects.active().in_stock().filter(category=product.category).exclude(pk=product.pk)
    return list(_with_cards(queryset.order_by("-created_at", "id"))[:limit])


def products_newest(*, limit: int = 8) -> list[Product]:
    return list(_with_cards(Product.objects.active().in_stock().order_by("-created_at", "-id"))[:limit])


def products_sellable_ids(*, ids: set[int]) -> set[int]:
    """Which of these products can be bought now (active, in stock), asked on ids alone."""
    return set(Product.objects.active().in_stock().filter(pk__in=ids).values_list("pk", flat=True))


def products_prices(*, ids: set[int]) -> dict[int, tuple[Decimal, int]]:
    """Price and category of each of these products, for what a rule asks of a cart."""
    return {
        pk: (price, category)
        for pk, price, category in Product.objects.filter(pk__in=ids).values_list("pk", "price", "category_id")
    }


def products_newest_ids(*, exclude: set[int], limit: int) -> list[int]:
    queryset = Product.objects.active().in_stock().exclude(pk__in=exclude).order_by("-created_at", "-id")
    return list(queryset.values_list("pk", flat=True)[:limit])


def products_for_cards(*, ids: set[int]) -> dict[int, Product]:
    """Products by id with what their cards show, for shelves chosen elsewhere."""
    return _with_cards(Product.objects.all()).in_bulk(ids)


def products_by_sku() -> dict[str, tuple[int, int]]:
    """Every product by upper-cased SKU: (product id, category id), for importers of event logs."""
    return {
        sku.upper(): (pk, category) for sku, pk, category in Product.objects.values_list("sku", "pk", "category_id")
    }


def departments_with_categories() -> list[Department]:
    return list(Department.objects.prefetch_related("categories"))


@dataclass(frozen=True)
class RatingSummary:
    average: float | None
    count: int


def product_rating(*, product: Product) -> RatingSummary:
    stats = product.reviews.filter(is_published=True).aggregate(average=Avg("rating"), count=Count("id"))
    return RatingSummary(average=round(stats["average"], 1) if stats["average"] else None, count=stats["count"])


def product_reviews(*, product: Product, limit: int = 20) -> list[Review]:
    return list(product.reviews.filter(is_published=True).select_related("user")[:limit])


def review_ratings() -> QuerySet:
    """(user id, product id, stars) of every published review, for rating-based recommenders."""
    return Review.objects.filter(is_published=True).values_list("user_id", "product_id", "rating")
