"""Tests of the demo seed: structure from the vocabulary, sensible prices, determinism, idempotency, demo logins."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.text import slugify

from shop.catalog import demo_data
from shop.catalog.models import Brand, Category, Department, Product, ProductImage
from shop.catalog.services.demo import DEMO_HISTORY_DAYS, demo_products_build
from tests.factories.catalog import ProductFactory

SMALL = 120
SEED = 7
SPECS = {spec.name: spec for department in demo_data.DEPARTMENTS for spec in department.categories}


def _seed(products: int = SMALL, seed: int = SEED, shoppers: int = 3) -> str:
    out = io.StringIO()
    call_command("seed_demo", products=products, seed=seed, shoppers=shoppers, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _catalog_rows() -> list[tuple]:
    return sorted(
        Product.objects.filter(sku__startswith="LL").values_list(
            "sku",
            "slug",
            "title",
            "description",
            "price",
            "compare_at_price",
            "stock",
            "attributes",
            "is_active",
            "created_at",
            "category__slug",
            "category__department__slug",
            "brand__slug",
            "images__background",
        )
    )


def _counts() -> dict[str, int]:
    return {
        "departments": Department.objects.count(),
        "categories": Category.objects.count(),
        "brands": Brand.objects.count(),
        "products": Product.objects.count(),
        "images": ProductImage.objects.count(),
        "users": get_user_model().objects.count(),
    }


def test_vocabulary_is_big_enough_and_consistent():
    assert len(demo_data.DEPARTMENTS) >= 5
    assert len(SPECS) >= 30
    assert len({brand.name for brand in demo_data.BRANDS}) == len(demo_data.BRANDS) >= 50
    for brand in demo_data.BRANDS:
        assert set(brand.categories) <= set(SPECS), brand.name
        assert brand.tier in demo_data.TIER_BANDS
    for spec in SPECS.values():
        sellers = [brand for brand in demo_data.BRANDS if spec.name in brand.categories]
        assert len(sellers) >= 3, f"{spec.name} is sold by {len(sellers)} brands"
        assert 0 < spec.price[0] < spec.price[1]
        assert set(spec.colours) <= set(demo_data.COLOURS), spec.name
    assert len({slugify(name) for name in SPECS}) == len(SPECS)


def test_build_is_deterministic_and_stable_when_the_count_grows():
    first = demo_products_build(count=SMALL, seed=SEED)
    assert first == demo_products_build(count=SMALL, seed=SEED)
    assert demo_products_build(count=SMALL + 80, seed=SEED)[:SMALL] == first
    assert [p.title for p in demo_products_build(count=SMALL, seed=SEED + 1)] != [p.title for p in first]


def test_every_category_template_and_feature_renders():
    # Two products per category exercise every title template; features are sampled, so use several.
    products = demo_products_build(count=len(SPECS) * 6, seed=SEED)
    assert {p.category for p in products} == set(SPECS)
    assert all("{" not in p.title + p.description for p in products)


@pytest.mark.django_db
def test_seed_builds_the_promised_structure():
    output = _seed()

    assert Department.objects.count() >= 5
    assert Category.objects.count() >= 30
    assert Brand.objects.count() >= 50
    assert Product.objects.count() == SMALL
    assert Category.objects.filter(products__isnull=True).count() == 0  # 120 products cover all 40 categories
    assert "admin / admin" in output


@pytest.mark.django_db
def test_products_are_coherent_with_their_category():
    _seed()
    products = list(Product.objects.select_related("category", "brand").prefetch_related("images"))
    now = timezone.now()

    for product in products:
        spec = SPECS[product.category.name]
        low, high = (Decimal(value) for value in spec.price)
        assert low <= product.price <= high, (product.title, product.price, spec.price)
        assert spec.name in next(b.categories for b in demo_data.BRANDS if b.name == product.brand.name)
        assert product.title.startswith(product.brand.name)
        assert {"colour", "material"} <= set(product.attributes)
        assert set(spec.extras) <= set(product.attributes)
        if spec.sizes or spec.size_template:
            assert "size" in product.attributes
        [image] = product.images.all()
        assert image.background == demo_data.COLOURS[product.attributes["colour"]]
        assert not image.image
        assert product.slug.endswith(product.sku.lower())
        assert now - timedelta(days=DEMO_HISTORY_DAYS + 1) <= product.created_at <= now
        if product.compare_at_price is not None:
            assert product.compare_at_price > product.price

    jeans = [p for p in products if p.category.name == "Jeans"]
    assert all(p.attributes["size"] == f"W{p.attributes['waist']} L{p.attributes['leg']}" for p in jeans)
    assert any(p.on_sale for p in products)
    assert any(p.stock == 0 for p in products)
    assert any(0 < p.stock <= 5 for p in products)
    created = sorted(p.created_at for p in products)
    assert created[-1] - created[0] > timedelta(days=DEMO_HISTORY_DAYS // 2)


@pytest.mark.django_db
def test_running_twice_changes_nothing():
    _seed()
    rows, counts = _catalog_rows(), _counts()
    passwords = dict(get_user_model().objects.values_list("username", "password"))

    output = _seed()

    assert _catalog_rows() == rows
    assert _counts() == counts
    # Unchanged hashes: a re-seed does not log the demo accounts out.
    assert dict(get_user_model().objects.values_list("username", "password")) == passwords
    assert f"{SMALL} products (0 new)" in output


@pytest.mark.django_db
def test_same_seed_in_a_fresh_database_gives_the_same_catalog():
    _seed()
    rows = _catalog_rows()
    ProductImage.objects.all().delete()
    Product.objects.all().delete()
    Category.objects.all().delete()
    Brand.objects.all().delete()
    Department.objects.all().delete()

    _seed()

    assert _catalog_rows() == rows


@pytest.mark.django_db
def test_a_smaller_seed_deactivates_the_extra_demo_products_and_leaves_others_alone():
    other = ProductFactory(sku="HOUSE-1", stock=3)
    _seed()

    output = _seed(products=SMALL // 2)

    assert Product.objects.filter(sku__startswith="LL", is_active=True).count() == SMALL // 2
    assert Product.objects.filter(sku__startswith="LL", is_active=False).count() == SMALL // 2
    assert f"{SMALL // 2} deactivated" in output
    other.refresh_from_db()
    assert (other.is_active, other.stock) == (True, 3)
    _seed()
    assert Product.objects.filter(is_active=False).count() == 0


@pytest.mark.django_db
def test_admin_and_shoppers_can_log_in(client, settings):
    settings.DEMO_ADMIN_PASSWORD = "demo-pass-42"

    output = _seed(products=0, shoppers=3)

    assert "admin / demo-pass-42" in output
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    # The login lockout (django-axes) needs the request that logs in, as every real login has.
    assert client.login(request=HttpRequest(), username="admin", password="demo-pass-42")
    client.logout()
    shoppers = get_user_model().objects.filter(username__startswith="shopper").order_by("username")
    assert [(u.username, u.email) for u in shoppers] == [(f"shopper{n}", f"shopper{n}@example.com") for n in (1, 2, 3)]
    assert client.login(request=HttpRequest(), username="shopper3", password="shopper")


@pytest.mark.django_db
def test_an_existing_admin_gets_the_demo_password_back():
    user = get_user_model().objects.create_user("admin", "old@example.com", "forgotten")

    _seed(products=0, shoppers=0)

    user.refresh_from_db()
    assert user.is_superuser and user.check_password("admin")


def test_negative_counts_are_refused():
    with pytest.raises(CommandError):
        call_command("seed_demo", products=-1, stdout=io.StringIO(), stderr=io.StringIO())
