"""Listings, filters, sorting, search and product pages, as a shopper uses them."""

import re
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import F
from django.urls import reverse

from shop.catalog.models import Product
from shop.catalog.selectors import catalog_version
from tests.factories.catalog import BrandFactory, CategoryFactory, ProductFactory, ReviewFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def kitchen():
    category = CategoryFactory(name="Mugs", slug="mugs")
    acme, zenith = BrandFactory(name="Acme", slug="acme"), BrandFactory(name="Zenith", slug="zenith")
    products = {
        "cheap": ProductFactory(title="Plain Mug", category=category, brand=acme, price=Decimal("4.00"), stock=3),
        "mid": ProductFactory(title="Stoneware Mug", category=category, brand=zenith, price=Decimal("12.00"), stock=0),
        "dear": ProductFactory(title="Porcelain Mug", category=category, brand=acme, price=Decimal("25.00"), stock=8),
    }
    ProductFactory(title="Hidden Mug", category=category, brand=acme, is_active=False)
    return category, products


def _titles(response):
    return [product.title for product in response.context["products"]]


def test_category_listing_shows_active_products_with_filters_and_sort(client, kitchen):
    category, _ = kitchen
    url = category.get_absolute_url()
    assert sorted(_titles(client.get(url))) == ["Plain Mug", "Porcelain Mug", "Stoneware Mug"]
    assert _titles(client.get(url, {"sort": "price_desc"})) == ["Porcelain Mug", "Stoneware Mug", "Plain Mug"]
    assert _titles(client.get(url, {"brand": "acme", "sort": "price_asc"})) == ["Plain Mug", "Porcelain Mug"]
    assert _titles(client.get(url, {"in_stock": "on", "price_min": "5"})) == ["Porcelain Mug"]
    brands = {brand.slug: brand.product_count for brand in client.get(url).context["brands"]}
    assert brands == {"acme": 2, "zenith": 1}


def test_a_brand_filter_counts_its_products_and_still_offers_every_brand(client, kitchen):
    category, _ = kitchen
    ProductFactory(title="Unbranded Mug", category=category, brand=None)
    url = category.get_absolute_url()
    everything = client.get(url)
    assert everything.context["page_obj"].paginator.count == 4
    assert "4 products" in everything.content.decode()
    filtered = client.get(url, {"brand": "zenith"})
    assert _titles(filtered) == ["Stoneware Mug"]
    assert filtered.context["page_obj"].paginator.count == 1
    assert re.search(r">\s*1 product\s*</h2>", filtered.content.decode())
    offered = {brand.slug: brand.product_count for brand in filtered.context["brands"]}
    assert offered == {"acme": 2, "zenith": 1}
    both = client.get(url, {"brand": ["acme", "zenith"], "in_stock": "on"})
    assert both.context["page_obj"].paginator.count == 2
    assert {brand.slug: brand.product_count for brand in both.context["brands"]} == {"acme": 2}


def test_folded_filters_say_how_many_of_them_narrow_the_listing(client, kitchen):
    category, _ = kitchen
    url = category.get_absolute_url()
    assert "applied)" not in client.get(url).content.decode()
    # Two brands, a lower price bound and in stock only: four filters; the sort narrows nothing.
    query = {"brand": ["acme", "zenith"], "price_min": "5", "in_stock": "on", "sort": "price_asc"}
    assert "(4 applied)" in client.get(url, query).content.decode()
    # A refused filter opens the fold, so the shopper sees why.
    body = client.get(url, {"price_min": "cheap"}).content.decode()
    assert '<details class="filters__fold" open>' in body


def test_department_listing_includes_all_its_categories(client, kitchen):
    category, _ = kitchen
    other = CategoryFactory(department=category.department, name="Teapots", slug="teapots")
    ProductFactory(title="Brown Betty", category=other)
    titles = _titles(client.get(category.department.get_absolute_url()))
    assert "Brown Betty" in titles and "Plain Mug" in titles


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"price_min": "abc"}, "Enter a number"),
        ({"price_min": "-5"}, "greater than or equal to 0"),
        ({"price_min": "30", "price_max": "10"}, "lowest price must not be above"),
        ({"brand": "no-such-brand"}, "Select a valid choice"),
        ({"sort": "DROP TABLE"}, "Select a valid choice"),
        ({"q": "x" * 500}, "at most 200 characters"),
    ],
)
def test_bad_filters_get_400_with_a_reason(client, kitchen, params, reason):
    category, _ = kitchen
    response = client.get(category.get_absolute_url(), params)
    assert response.status_code == 400
    assert any(reason in error for error in response.context["errors"])


def test_out_of_range_page_shows_the_last_page(client, kitchen):
    category, _ = kitchen
    for page in ("999", "abc", "-1"):
        assert client.get(category.get_absolute_url(), {"page": page}).status_code == 200


def test_pagination_splits_large_listings(client, settings):
    settings.CATALOG_PAGE_SIZE = 4
    category = CategoryFactory()
    ProductFactory.create_batch(10, category=category)
    first = client.get(category.get_absolute_url())
    assert len(first.context["products"]) == 4
    assert first.context["page_obj"].paginator.num_pages == 3


def test_search_ranks_title_matches_first(client):
    ProductFactory(title="Garden Hose", description="Sturdy hose with a brass lantern-shaped nozzle.")
    ProductFactory(title="Brass Lantern", description="A hurricane lantern for the garden.")
    ProductFactory(title="Wool Scarf", description="Warm and soft.")
    response = client.get(reverse("catalog:search"), {"q": "lantern"})
    assert response.status_code == 200
    assert _titles(response) == ["Brass Lantern", "Garden Hose"]


def test_search_stems_words_and_survives_odd_input(client):
    ProductFactory(title="Running Shoes")
    assert _titles(client.get(reverse("catalog:search"), {"q": "run shoe"})) == ["Running Shoes"]
    for query in ['"unbalanced', "-", "a & b | !c", "<script>alert(1)</script>", "' OR 1=1 --", "😀"]:
        response = client.get(reverse("catalog:search"), {"q": query})
        assert response.status_code == 200
    hostile = client.get(reverse("catalog:search"), {"q": "<script>alert(1)</script>"}).content.decode()
    assert "<script>alert(1)</script>" not in hostile


def test_product_page_and_unknown_product(client):
    product = ProductFactory(title="Oak Chopping Board", attributes={"colour": "natural", "material": "oak"})
    page = client.get(product.get_absolute_url())
    assert page.status_code == 200
    body = page.content.decode()
    assert "Oak Chopping Board" in body and "oak" in body
    assert client.get(reverse("catalog:product", kwargs={"slug": "nope"})).status_code == 404
    hidden = ProductFactory(is_active=False)
    assert client.get(hidden.get_absolute_url()).status_code == 404


def test_placeholder_image_is_svg_in_the_product_colour_with_its_kind_pictured(client):
    product = ProductFactory(title="Red Kettle", category=CategoryFactory(name="Kettles", slug="kettles"))
    image = product.images.get()
    response = client.get(image.url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    body = response.content.decode()
    assert image.background in body
    assert 'data-icon="teapot"' in body and ">RK<" not in body


def test_listing_runs_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    category = CategoryFactory()
    ProductFactory.create_batch(24, category=category)
    client.get(category.get_absolute_url())  # the first page publishes slot settings and rules to Redis
    # The catalogue's version, the category, its facets with the count, the page's products and
    # their images: nothing is kept here, in the transaction that made the products.
    with django_assert_max_num_queries(5):
        assert client.get(category.get_absolute_url()).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_listing_kept_for_everyone_shows_each_committed_change_on_the_next_page(
    client, django_assert_max_num_queries
):
    category = CategoryFactory(name="Mugs", slug="mugs")
    mug = ProductFactory(title="Plain Mug", category=category, price=Decimal("4.00"), stock=3)
    ProductFactory.create_batch(3, category=category)
    url = category.get_absolute_url()
    search = reverse("catalog:search") + "?q=plain"
    for page in (url, search):
        client.get(page)  # kept, for this version of the catalogue
        with django_assert_max_num_queries(1):  # the version only
            assert client.get(page).status_code == 200
    # A checkout's stock and a price change made without save() show at once, on both pages.
    type(mug).objects.filter(pk=mug.pk).update(price=Decimal("5.50"), stock=0)
    for page in (url, search):
        body = client.get(page).content.decode()
        card = body[body.index(f'data-product-id="{mug.pk}"') :].split("</article>")[0]
        assert "£5.50" in card and "Out of stock" in card
    ProductFactory(title="Plain Beaker", category=category)
    assert "5 products" in client.get(url).content.decode()
    assert "Plain Beaker" in client.get(search).content.decode()
    category.name = "Cups"
    category.save()
    assert "<h1>Cups</h1>" in client.get(url).content.decode()


def test_a_card_shows_its_products_change_at_once_however_it_was_made(client, kitchen):
    category, products = kitchen
    assert "£4.00" in client.get(category.get_absolute_url()).content.decode()
    # An update that bypasses save() (no updated_at, no signal) still changes what the card shows.
    type(products["cheap"]).objects.filter(pk=products["cheap"].pk).update(price=Decimal("5.50"), stock=0)
    page = client.get(category.get_absolute_url()).content.decode()
    card = page[page.index(f'data-product-id="{products["cheap"].pk}"') :].split("</article>")[0]
    assert "£5.50" in card and "£4.00" not in card and "Out of stock" in card


def test_cards_share_their_markup_but_not_where_they_are_shown(client, kitchen):
    category, products = kitchen
    listing = client.get(category.get_absolute_url()).content.decode()
    searched = client.get(reverse("catalog:search"), {"q": "porcelain"}).content.decode()
    card = f'data-product-id="{products["dear"].pk}" data-category-id="{category.pk}"'
    assert f'{card} data-list="category:{category.slug}" data-position="2"' in listing
    assert f'{card} data-list="search" data-position="1"' in searched


def test_a_department_renamed_shows_in_the_menu_on_the_next_page(client, kitchen):
    category, _ = kitchen
    assert category.department.name in client.get(reverse("home")).content.decode()
    category.department.name = "Tableware"
    category.department.save()
    assert "Tableware" in client.get(category.get_absolute_url()).content.decode()


def test_a_nul_in_the_search_gets_a_400_with_a_message_and_the_rest_is_still_searched(client, kitchen):
    for query in ("\x00", "mug\x00"):
        response = client.get(reverse("catalog:search"), {"q": query})
        assert response.status_code == 400
        assert any("Null characters are not allowed" in error for error in response.context["errors"])
    assert "Plain Mug" in _titles(response)


HOSTILE_QUERIES = [
    {"q": "\x00"},
    {"page": "²"},
    {"page": "①"},
    {"page": "9" * 5000},
    {"page": "\x00"},
    {"price_min": "²"},
    {"price_max": "9" * 5000},
    {"price_min": "1e400"},
    {"price_min": "NaN"},
    {"sort": "\x00"},
    {"brand": "\x00"},
    {"in_stock": "\x00"},
]


@pytest.mark.parametrize("params", HOSTILE_QUERIES, ids=lambda params: repr(params)[:40])
def test_hostile_query_strings_get_a_page_or_a_400_never_a_500(client, kitchen, params):
    category, _ = kitchen
    for url in (reverse("catalog:search"), category.get_absolute_url(), category.department.get_absolute_url()):
        response = client.get(url, {"q": "mug", **params})
        assert response.status_code in (200, 400), (url, params, response.status_code)


def test_a_blank_filter_kept_per_process_never_shows_another_visitors_choice(client, kitchen):
    category, _ = kitchen
    url = category.get_absolute_url()
    chosen = re.compile(r'<option value="([a-z_]+)" selected>')
    assert chosen.findall(client.get(url).content.decode()) == []
    picked = client.get(url, {"sort": "price_desc", "price_min": "5", "in_stock": "on"}).content.decode()
    assert chosen.findall(picked) == ["price_desc"]
    assert 'name="price_min" value="5"' in picked and re.search(r'name="in_stock"[^>]* checked', picked)
    blank = client.get(url).content.decode()
    assert chosen.findall(blank) == [] and 'name="price_min" value=' not in blank
    assert not re.search(r'name="in_stock"[^>]* checked', blank)


@pytest.mark.django_db(transaction=True)
def test_the_catalogue_version_moves_on_when_a_change_commits_and_not_for_other_writes():
    product = ProductFactory()
    before = catalog_version()
    with transaction.atomic():
        Product.objects.filter(pk=product.pk).update(stock=F("stock") - 1)
        Product.objects.filter(pk=product.pk).update(stock=F("stock") - 1)
        assert catalog_version() is None  # this transaction's own change: nothing read now is kept
    after = catalog_version()
    assert after == before + 1  # once for the transaction, however many rows and statements
    ReviewFactory(product=product)  # not something a listing shows
    assert catalog_version() == after
