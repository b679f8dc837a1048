"""Storefront views of the catalog: listings, product page, search, image placeholders."""

import hashlib

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_POST

from personalization.api import page_context
from shop.ratelimit import address_budget_spend
from tracking.api import track

from .forms import MAX_QUERY_LENGTH, ListingForm, ReviewForm, SuggestForm
from .kept import listing_kept
from .models import ProductImage
from .placeholders import placeholder_svg
from .selectors import (
    SORT_LABELS,
    ProductFilters,
    brand_slugs,
    catalog_version,
    category_for_listing,
    department_for_listing,
    listing_read,
    product_detail,
    product_reviews,
    products_related,
    search_suggestions,
)
from .services.reviews import review_submit

SEARCH_TEMPLATE = "catalog/search.html"
LISTING_BODY_TEMPLATE = "catalog/partials/listing_body.html"
SEARCH_BODY = {
    "show_query": True,
    "keep_query": True,
    "empty_message": "Nothing matches your search and filters. Try fewer or different words.",
}


def _listing(request: HttpRequest, *, template: str, version: int | None, status: int = 200, **scope) -> HttpResponse:
    # The brands a filter may name are only needed to check one that does.
    slugs = brand_slugs(version=version) if "brand" in request.GET else []
    form = ListingForm(request.GET or None, brand_slugs=slugs)
    errors = []
    if form.is_bound and not form.is_valid():
        errors = [message for messages in form.errors.values() for message in messages]
        status = 400
        # Keep the shopper's words on screen while saying what was wrong with the rest; the form
        # refuses a NUL (Postgres cannot take one), the words around it are still searched.
        query = request.GET.get("q", "").replace("\x00", "")[:MAX_QUERY_LENGTH]
        filters = ProductFilters(**scope, query=query)
    else:
        data = form.cleaned_data if form.is_bound else {}
        filters = ProductFilters(
            **scope,
            brand_slugs=tuple(data.get("brand") or ()),
            price_min=data.get("price_min"),
            price_max=data.get("price_max"),
            in_stock=bool(data.get("in_stock")),
            query=data.get("q") or scope.get("query", ""),
            sort=data.get("sort") or "relevance",
        )
    listing = listing_read(
        filters=filters, page_number=request.GET.get("page"), per_page=settings.CATALOG_PAGE_SIZE, version=version
    )
    filters, page = listing.filters, listing.page
    if filters.query and page.number == 1 and not errors:
        track(request, "search", props={"search_term": filters.query, "results": listing.facets.total})
    query_without_page = request.GET.copy()
    query_without_page.pop("page", None)
    context = {
        **scope,
        "form": form,
        "filters": filters,
        "errors": errors,
        "page_obj": page,
        "products": page.object_list,
        "brands": listing.facets.brands,
        "sort_labels": SORT_LABELS,
        "querystring": query_without_page.urlencode(),
        "list_name": _list_name(scope, filters),
        "currency": settings.SHOP_CURRENCY,
    }
    context["listing_body"] = _listing_body(
        request, {**context, **(SEARCH_BODY if template == SEARCH_TEMPLATE else {})}, version=version
    )
    # A category's listing and a search run the merchandiser's rules for them (content slots).
    if scope.get("category"):
        context.update(page_context(request, "category", category=scope["category"].pk))
    elif template == SEARCH_TEMPLATE:
        context.update(page_context(request, "search", term=filters.query or None))
    return render(request, template, context, status=status)


def _listing_body(request: HttpRequest, context: dict, *, version: int | None) -> SafeString:
    """The filters and results, which show nothing of the visitor: rendered once per address (the
    query string is all the filters and the page) and catalogue version, as cards are once per look.
    With DEBUG on they are rendered every time, so an edited template shows."""
    if settings.DEBUG:
        version = None
    return listing_kept(
        version=version,
        key=("listing-body", request.get_full_path(), get_language()),
        make=lambda: mark_safe(render_to_string(LISTING_BODY_TEMPLATE, context)),  # noqa: S308 (rendered by the template engine)
    )


def _list_name(scope: dict, filters: ProductFilters) -> str:
    """How impressions and clicks name this listing: category:mugs, department:kitchen, search."""
    if scope.get("category"):
        return f"category:{scope['category'].slug}"
    if scope.get("department"):
        return f"department:{scope['department'].slug}"
    return "search"


@require_GET
def department_view(request: HttpRequest, slug: str) -> HttpResponse:
    version = catalog_version()
    department = department_for_listing(slug=slug, version=version)
    if department is None:
        raise Http404("No such department.")
    return _listing(request, template="catalog/listing.html", version=version, department=department)


@require_GET
def category_view(request: HttpRequest, slug: str) -> HttpResponse:
    version = catalog_version()
    category = category_for_listing(slug=slug, version=version)
    if category is None:
        raise Http404("No such category.")
    return _listing(
        request, template="catalog/listing.html", version=version, category=category, department=category.department
    )


@require_GET
def search_view(request: HttpRequest) -> HttpResponse:
    return _listing(request, template=SEARCH_TEMPLATE, version=catalog_version())


@require_GET
def suggest_view(request: HttpRequest) -> JsonResponse:
    """The search box's type-ahead: {"suggestions": [{"label", "url", "kind"}, ...]}."""
    wait = address_budget_spend(
        request=request, scope="suggest", limit=settings.CATALOG_SUGGESTIONS_PER_IP, window_seconds=60
    )
    if wait:
        response = JsonResponse({"error": "too many suggestions asked from your network; slow down"}, status=429)
        response["Retry-After"] = str(wait)
        return response
    form = SuggestForm(request.GET)
    if not form.is_valid():
        reasons = [message for messages in form.errors.values() for message in messages]
        return JsonResponse({"error": " ".join(reasons)}, status=400)
    suggestions = search_suggestions(term=form.cleaned_data["q"])
    return JsonResponse({"suggestions": [suggestion.as_json() for suggestion in suggestions]})


@require_GET
def product_view(request: HttpRequest, slug: str) -> HttpResponse:
    product = product_detail(slug=slug)
    if product is None:
        raise Http404("No such product.")
    return _product_page(request, product=product)


def _product_page(request: HttpRequest, *, product, review_form: ReviewForm | None = None, status: int = 200):
    rating, reviews = product_reviews(product=product)
    personal = page_context(request, "product", products=[product.pk])
    shown = {card.pk for block in personal["slots"].values() for card in block.products}
    context = {
        "product": product,
        "related": products_related(product=product, exclude=shown),
        "rating": rating,
        "reviews": reviews,
        "review_form": review_form or ReviewForm(),
        **personal,
    }
    return render(request, "catalog/product.html", context, status=status)


@require_POST
@login_required
def review_view(request: HttpRequest, slug: str) -> HttpResponse:
    product = product_detail(slug=slug)
    if product is None:
        raise Http404("No such product.")
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return _product_page(request, product=product, review_form=form, status=400)
    review_submit(product=product, user=request.user, **form.cleaned_data)
    messages.success(request, "Thank you: your review awaits moderation and shows here once we have read it.")
    return redirect(product.get_absolute_url() + "#reviews")


@require_GET
@cache_control(public=True, max_age=60 * 60 * 24)
def placeholder_view(request: HttpRequest, pk: int) -> HttpResponse:
    image = get_object_or_404(ProductImage.objects.select_related("product__category__department"), pk=pk)
    category = image.product.category
    svg = placeholder_svg(
        title=image.product.title,
        background=image.background,
        category=category.name,
        department=category.department.name,
    )
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["ETag"] = '"' + hashlib.sha1(svg.encode(), usedforsecurity=False).hexdigest() + '"'
    return response
