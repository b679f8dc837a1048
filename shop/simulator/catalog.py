"""Loads the real catalog from the database into the snapshot the simulation engine draws from."""

from django.conf import settings

from shop.catalog.models import Brand, Category, Department, Product

from .engine import CatalogSnapshot, NamedFact, ProductFact


def catalog_snapshot_load() -> CatalogSnapshot:
    """Active products with their category, department and brand, in four queries."""
    products = [
        ProductFact(
            id=pk,
            slug=slug,
            title=title,
            price=float(price),
            on_sale=compare_at is not None and compare_at > price,
            stock=stock,
            category_id=category_id,
            department_id=department_id,
            brand_id=brand_id,
        )
        for pk, slug, title, price, compare_at, stock, category_id, department_id, brand_id in (
            Product.objects.active()
            .order_by("pk")
            .values_list(
                "pk",
                "slug",
                "title",
                "price",
                "compare_at_price",
                "stock",
                "category_id",
                "category__department_id",
                "brand_id",
            )
        )
    ]
    return CatalogSnapshot(
        products=products,
        categories=[
            NamedFact(id=pk, slug=slug, name=name, parent_id=department)
            for pk, slug, name, department in Category.objects.values_list("pk", "slug", "name", "department_id")
        ],
        departments=[
            NamedFact(id=pk, slug=slug, name=name)
            for pk, slug, name in Department.objects.values_list("pk", "slug", "name")
        ],
        brands=[
            NamedFact(id=pk, slug=slug, name=name) for pk, slug, name in Brand.objects.values_list("pk", "slug", "name")
        ],
        currency=settings.SHOP_CURRENCY,
    )
