"""Idempotent bulk upserts of catalog rows by slug and SKU, shared by the demo seed and imports."""

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

from django.utils.text import slugify

from ..models import Brand, Category, Department, Product, ProductImage
from ..snapshot import catalog_changed

# Called with (rows just written, rows in all) after each batch, for a progress bar.
Progress = Callable[[int, int], None]

# Rows per INSERT ... ON CONFLICT. The default seed (2,000 products) on local Postgres took
# 1.33-1.38 s whatever the size from 100 to 2,000; 500 keeps the progress bar moving.
PRODUCT_BATCH_SIZE = 500
# Rows per UPDATE ... CASE of bulk_update: created_at of 2,000 products took 0.32-0.41 s for
# every size from 50 to 1,000, so this only bounds the statement length.
UPDATE_BATCH_SIZE = 500
# Values per `IN (...)` lookup: under SQLite's historic 999-variable limit.
LOOKUP_BATCH_SIZE = 900


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def product_slug(title: str, sku: str) -> str:
    # The SKU suffix makes the slug unique even when two products share a title.
    return f"{slugify(title)[:140].rstrip('-')}-{slugify(sku)}"


def departments_upsert(*, departments: Sequence[tuple[str, str]]) -> dict[str, Department]:
    """(name, description) pairs, in display order -> Department by name."""
    rows = [
        Department(name=name, slug=slugify(name), description=description, position=position)
        for position, (name, description) in enumerate(departments)
    ]
    Department.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["slug"], update_fields=["name", "description", "position"]
    )
    catalog_changed()
    return {d.name: d for d in Department.objects.filter(slug__in=[row.slug for row in rows])}


def categories_upsert(*, categories: Sequence[tuple[Department, str, str]]) -> tuple[dict[str, Category], int]:
    """(department, name, description) triples -> (Category by slug, how many were new)."""
    rows = [
        Category(department=department, name=name, slug=slugify(name), description=description, position=position)
        for position, (department, name, description) in enumerate(categories)
    ]
    slugs = [row.slug for row in rows]
    existing = set(Category.objects.filter(slug__in=slugs).values_list("slug", flat=True))
    Category.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["slug"],
        update_fields=["department", "name", "description", "position"],
    )
    catalog_changed()
    by_slug = {c.slug: c for c in Category.objects.filter(slug__in=slugs).select_related("department")}
    return by_slug, len(set(slugs) - existing)


def brands_upsert(*, brands: Sequence[tuple[str, str]]) -> dict[str, Brand]:
    rows = [Brand(name=name, slug=slugify(name), description=description) for name, description in brands]
    Brand.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["slug"], update_fields=["name", "description"]
    )
    catalog_changed()
    return {b.name: b for b in Brand.objects.filter(slug__in=[row.slug for row in rows])}


def existing_products(skus: Sequence[str]) -> dict[str, tuple[int, datetime]]:
    found: dict[str, tuple[int, datetime]] = {}
    for batch in chunks(skus, LOOKUP_BATCH_SIZE):
        found.update(
            (sku, (pk, created_at))
            for sku, pk, created_at in Product.objects.filter(sku__in=batch).values_list("sku", "pk", "created_at")
        )
    return found


def products_upsert(
    *, products: Sequence[Product], update_fields: list[str], progress: Progress | None
) -> tuple[dict[str, tuple[int, datetime]], int]:
    """Insert or update by SKU -> ({sku: (pk, created_at)}, how many were new)."""
    if len({p.sku for p in products}) != len(products):
        # ON CONFLICT DO UPDATE cannot touch one row twice in a statement; callers de-duplicate.
        raise ValueError("Products to upsert must have distinct SKUs.")
    skus = [p.sku for p in products]
    before = existing_products(skus)
    if progress is not None:
        progress(0, len(products))
    for batch in chunks(products, PRODUCT_BATCH_SIZE):
        Product.objects.bulk_create(batch, update_conflicts=True, unique_fields=["sku"], update_fields=update_fields)
        if progress is not None:
            progress(len(batch), len(products))
    catalog_changed()
    return existing_products(skus), len(set(skus) - set(before))


def created_at_set(*, rows: dict[str, tuple[int, datetime]], wanted: dict[str, datetime | None]) -> None:
    """created_at is auto_now_add, so the history is written after the insert, and only where it differs."""
    changed = [
        Product(pk=rows[sku][0], created_at=when)
        for sku, when in wanted.items()
        if when is not None and rows[sku][1] != when
    ]
    Product.objects.bulk_update(changed, ["created_at"], batch_size=UPDATE_BATCH_SIZE)
    catalog_changed()


def placeholder_images_sync(*, images: dict[int, tuple[str, str]]) -> None:
    """One image per product at position 0, {product pk: (alt, background)}; existing ones are updated in place."""
    existing: dict[int, ProductImage] = {}
    for batch in chunks(list(images), LOOKUP_BATCH_SIZE):
        for image in ProductImage.objects.filter(product_id__in=batch, position=0).order_by("id"):
            existing.setdefault(image.product_id, image)
    to_create, to_update = [], []
    for product_id, (alt, background) in images.items():
        image = existing.get(product_id)
        if image is None:
            to_create.append(ProductImage(product_id=product_id, alt=alt[:200], background=background, position=0))
        elif (image.alt, image.background) != (alt[:200], background):
            image.alt, image.background = alt[:200], background
            to_update.append(image)
    ProductImage.objects.bulk_create(to_create, batch_size=PRODUCT_BATCH_SIZE)
    ProductImage.objects.bulk_update(to_update, ["alt", "background"], batch_size=UPDATE_BATCH_SIZE)
    catalog_changed()


# ---------------------------------------------------------------------------------------------
# Demo catalog
