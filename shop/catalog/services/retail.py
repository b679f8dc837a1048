"""The import of the real Online Retail catalog: stock codes, descriptions, prices, derived categories."""

from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils.text import slugify

from ..importers import CATEGORY_RULES, DEPARTMENT_DESCRIPTIONS, FALLBACK_CATEGORY, online_retail_read
from ..models import Product
from .search import search_words_refresh
from .upserts import (
    Progress,
    categories_upsert,
    created_at_set,
    departments_upsert,
    placeholder_images_sync,
    product_slug,
    products_upsert,
)

IMPORT_DEFAULT_STOCK = 25


@dataclass(frozen=True)
class ImportResult:
    rows_read: int
    rows_used: int
    codes_skipped: int
    departments: int
    categories: int
    categories_created: int
    products: int
    products_created: int


def catalog_import_online_retail(
    *, path: Path, limit: int | None = None, progress: Progress | None = None
) -> ImportResult:
    """Products, categories and placeholder images from the UCI Online Retail file, upserted by SKU.

    A re-import refreshes titles, prices and categories but leaves stock and is_active alone:
    those belong to the running shop. Raises importers.CatalogImportError on an unreadable file.
    """
    catalog = online_retail_read(path=path, limit=limit)
    used = {(p.department, p.category) for p in catalog.products}
    # Rule order is display order; only categories that received a product are created.
    ordered = list(dict.fromkeys([*((r.department, r.category) for r in CATEGORY_RULES), FALLBACK_CATEGORY]))
    ordered = [pair for pair in ordered if pair in used]

    with transaction.atomic():
        departments = departments_upsert(
            departments=[(name, DEPARTMENT_DESCRIPTIONS.get(name, "")) for name in dict.fromkeys(d for d, _ in ordered)]
        )
        categories, categories_created = categories_upsert(
            categories=[(departments[department], name, "") for department, name in ordered]
        )
        rows = [
            Product(
                sku=p.sku,
                slug=product_slug(p.title, p.sku),
                title=p.title,
                description=f"{p.category} from our {p.department} collection. Stock code {p.sku}.",
                category=categories[slugify(p.category)],
                brand=None,
                price=p.price,
                stock=IMPORT_DEFAULT_STOCK,
                attributes={"colour": p.colour} if p.colour else {},
                is_active=True,
            )
            for p in catalog.products
        ]
        saved, created = products_upsert(
            products=rows,
            update_fields=["slug", "title", "description", "category", "brand", "price", "attributes", "updated_at"],
            progress=progress,
        )
        created_at_set(rows=saved, wanted={p.sku: p.first_sold for p in catalog.products})
        placeholder_images_sync(images={saved[p.sku][0]: (p.title, p.background) for p in catalog.products})
        search_words_refresh()

    return ImportResult(
        rows_read=catalog.rows_read,
        rows_used=catalog.rows_used,
        codes_skipped=catalog.codes_skipped,
        departments=len(departments),
        categories=len(categories),
        categories_created=categories_created,
        products=len(rows),
        products_created=created,
    )
