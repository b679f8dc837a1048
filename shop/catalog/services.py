"""Writes of the catalog: the demo seed and the Online Retail import, both idempotent upserts by slug and SKU."""

import math
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from . import demo_data
from .importers import CATEGORY_RULES, DEPARTMENT_DESCRIPTIONS, FALLBACK_CATEGORY, online_retail_read
from .models import Brand, Category, Department, Product, ProductImage

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

DEMO_PRODUCTS = 2000
DEMO_SEED = 2024
DEMO_SHOPPERS = 20
DEMO_SKU_PREFIX = "LL"
DEMO_SKU = re.compile(rf"^{DEMO_SKU_PREFIX}\d{{5,}}$")
DEMO_ADMIN_USERNAME = "admin"
DEMO_SHOPPER_PASSWORD = "shopper"  # noqa: S105 - a published demo login, not a secret
DEMO_HISTORY_DAYS = 180
DEMO_SALE_SHARE = 0.15
DEMO_DISCOUNTS = (0.10, 0.15, 0.20, 0.25, 0.30, 0.40)
DEMO_SOLD_OUT_SHARE = 0.07
DEMO_LOW_STOCK_SHARE = 0.13

IMPORT_DEFAULT_STOCK = 25


@dataclass(frozen=True)
class SeedResult:
    departments: int
    categories: int
    brands: int
    products: int
    products_created: int
    products_deactivated: int
    shoppers: int
    admin_username: str


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


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _product_slug(title: str, sku: str) -> str:
    # The SKU suffix makes the slug unique even when two products share a title.
    return f"{slugify(title)[:140].rstrip('-')}-{slugify(sku)}"


def _departments_upsert(*, departments: Sequence[tuple[str, str]]) -> dict[str, Department]:
    """(name, description) pairs, in display order -> Department by name."""
    rows = [
        Department(name=name, slug=slugify(name), description=description, position=position)
        for position, (name, description) in enumerate(departments)
    ]
    Department.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["slug"], update_fields=["name", "description", "position"]
    )
    return {d.name: d for d in Department.objects.filter(slug__in=[row.slug for row in rows])}


def _categories_upsert(*, categories: Sequence[tuple[Department, str, str]]) -> tuple[dict[str, Category], int]:
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
    by_slug = {c.slug: c for c in Category.objects.filter(slug__in=slugs).select_related("department")}
    return by_slug, len(set(slugs) - existing)


def _brands_upsert(*, brands: Sequence[tuple[str, str]]) -> dict[str, Brand]:
    rows = [Brand(name=name, slug=slugify(name), description=description) for name, description in brands]
    Brand.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["slug"], update_fields=["name", "description"]
    )
    return {b.name: b for b in Brand.objects.filter(slug__in=[row.slug for row in rows])}


def _existing_products(skus: Sequence[str]) -> dict[str, tuple[int, datetime]]:
    found: dict[str, tuple[int, datetime]] = {}
    for batch in _chunks(skus, LOOKUP_BATCH_SIZE):
        found.update(
            (sku, (pk, created_at))
            for sku, pk, created_at in Product.objects.filter(sku__in=batch).values_list("sku", "pk", "created_at")
        )
    return found


def _products_upsert(
    *, products: Sequence[Product], update_fields: list[str], progress: Progress | None
) -> tuple[dict[str, tuple[int, datetime]], int]:
    """Insert or update by SKU -> ({sku: (pk, created_at)}, how many were new)."""
    if len({p.sku for p in products}) != len(products):
        # ON CONFLICT DO UPDATE cannot touch one row twice in a statement; callers de-duplicate.
        raise ValueError("Products to upsert must have distinct SKUs.")
    skus = [p.sku for p in products]
    before = _existing_products(skus)
    if progress is not None:
        progress(0, len(products))
    for batch in _chunks(products, PRODUCT_BATCH_SIZE):
        Product.objects.bulk_create(batch, update_conflicts=True, unique_fields=["sku"], update_fields=update_fields)
        if progress is not None:
            progress(len(batch), len(products))
    return _existing_products(skus), len(set(skus) - set(before))


def _created_at_set(*, rows: dict[str, tuple[int, datetime]], wanted: dict[str, datetime | None]) -> None:
    """created_at is auto_now_add, so the history is written after the insert, and only where it differs."""
    changed = [
        Product(pk=rows[sku][0], created_at=when)
        for sku, when in wanted.items()
        if when is not None and rows[sku][1] != when
    ]
    Product.objects.bulk_update(changed, ["created_at"], batch_size=UPDATE_BATCH_SIZE)


def _placeholder_images_sync(*, images: dict[int, tuple[str, str]]) -> None:
    """One image per product at position 0, {product pk: (alt, background)}; existing ones are updated in place."""
    existing: dict[int, ProductImage] = {}
    for batch in _chunks(list(images), LOOKUP_BATCH_SIZE):
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


# ---------------------------------------------------------------------------------------------
# Demo catalog


@dataclass(frozen=True)
class DemoProduct:
    sku: str
    title: str
    description: str
    department: str
    category: str
    brand: str
    price: Decimal
    compare_at_price: Decimal | None
    stock: int
    attributes: dict
    background: str
    age: timedelta


def _charm_price(pounds: float) -> Decimal:
    """Shop prices: £4.49 / £4.99 under £10, £23.99 under £100, £149.99 above."""
    if pounds < 10:
        value = math.ceil(pounds * 2) / 2
    elif pounds < 100:
        value = math.ceil(pounds)
    else:
        value = math.ceil(pounds / 5) * 5
    return Decimal(str(value)).quantize(Decimal("0.01")) - Decimal("0.01")


def _demo_price(rng: random.Random, *, spec: demo_data.CategorySpec, tier: str) -> Decimal:
    low, high = spec.price
    band_low, band_high = demo_data.TIER_BANDS[tier]
    # Log scale: a range of £15-£350 has as many products around £40 as around £150.
    pounds = low * (high / low) ** rng.uniform(band_low, band_high)
    return min(max(_charm_price(pounds), Decimal(low)), Decimal(high))


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def demo_products_build(*, count: int, seed: int) -> list[DemoProduct]:
    """The demo products, a pure function of (count, seed).

    Each product draws from its own Random(f"{seed}:{n}"), so product n is the same whatever
    the count: seeding 2,000 and then 2,500 adds 500 and leaves the first 2,000 untouched.
    """
    categories = [(dept, spec) for dept in demo_data.DEPARTMENTS for spec in dept.categories]
    brands_of: dict[str, list[demo_data.BrandSpec]] = {}
    for brand in demo_data.BRANDS:
        for category in brand.categories:
            brands_of.setdefault(category, []).append(brand)

    products, titles = [], set()
    for n in range(1, count + 1):
        rng = random.Random(f"{seed}:{n}")
        department, spec = categories[(n - 1) % len(categories)]
        # A few draws to avoid a title already taken; after that a repeat is allowed (the slug differs).
        for _attempt in range(8):
            brand = rng.choice(brands_of[spec.name])
            fields = {
                "brand": brand.name,
                "line": rng.choice(demo_data.LINES),
                "style": rng.choice(spec.styles),
                "noun": rng.choice(spec.nouns),
                "colour": rng.choice(spec.colours),
                "material": rng.choice(spec.materials),
                **{key: rng.choice(values) for key, values in spec.extras.items()},
            }
            fields["Material"] = " ".join(w if w == "and" else w.capitalize() for w in fields["material"].split())
            if spec.size_template:
                fields["size"] = spec.size_template.format(**fields)
            elif spec.sizes:
                fields["size"] = rng.choice(spec.sizes)
            title = spec.title.format(**fields)
            if title not in titles:
                break
        titles.add(title)

        attributes = {"colour": fields["colour"], "material": fields["material"]}
        if "size" in fields:
            attributes["size"] = fields["size"]
        attributes.update({key: fields[key] for key in spec.extras})
        prose = {**fields, "material": fields["material"].lower()}
        lead = _sentence(f"{fields['style']} {fields['noun']} in {fields['colour']}".lower() + f", by {brand.name}.")
        features = [_sentence(f.format(**prose)) for f in rng.sample(spec.features, k=min(3, len(spec.features)))]

        price = _demo_price(rng, spec=spec, tier=brand.tier)
        compare_at_price = None
        if rng.random() < DEMO_SALE_SHARE:
            was = _charm_price(float(price) / (1 - rng.choice(DEMO_DISCOUNTS)))
            compare_at_price = was if was > price else None
        roll = rng.random()
        if roll < DEMO_SOLD_OUT_SHARE:
            stock = 0
        elif roll < DEMO_SOLD_OUT_SHARE + DEMO_LOW_STOCK_SHARE:
            stock = rng.randint(1, 5)
        else:
            stock = rng.randint(6, 150)

        products.append(
            DemoProduct(
                sku=f"{DEMO_SKU_PREFIX}{n:05d}",
                title=title,
                description=" ".join([lead, *features, brand.tagline]),
                department=department.name,
                category=spec.name,
                brand=brand.name,
                price=price,
                compare_at_price=compare_at_price,
                stock=stock,
                attributes=attributes,
                background=demo_data.COLOURS[fields["colour"]],
                age=timedelta(seconds=rng.randrange(DEMO_HISTORY_DAYS * 24 * 3600)),
            )
        )
    return products


def _demo_users_ensure(*, shoppers: int, admin_password: str) -> None:
    User = get_user_model()
    admin = User.objects.filter(username=DEMO_ADMIN_USERNAME).first()
    if admin is None:
        User.objects.create_superuser(DEMO_ADMIN_USERNAME, f"{DEMO_ADMIN_USERNAME}@example.com", admin_password)
    else:
        admin.is_staff = admin.is_superuser = admin.is_active = True
        if not admin.check_password(admin_password):
            admin.set_password(admin_password)
        admin.save(update_fields=["is_staff", "is_superuser", "is_active", "password"])

    usernames = [f"shopper{n}" for n in range(1, shoppers + 1)]
    current = dict(User.objects.filter(username__in=usernames).values_list("username", "password"))
    # One hash for all shoppers: the slow hasher runs once, not twenty times. Hashes that already
    # match are kept, so a re-seed leaves rows and logged-in sessions as they were.
    valid = {h for h in set(current.values()) if check_password(DEMO_SHOPPER_PASSWORD, h)}
    fresh = next(iter(valid)) if valid else make_password(DEMO_SHOPPER_PASSWORD)
    rows = [
        User(
            username=username,
            email=f"{username}@example.com",
            first_name=demo_data.SHOPPER_FIRST_NAMES[(n - 1) % len(demo_data.SHOPPER_FIRST_NAMES)],
            last_name=demo_data.SHOPPER_LAST_NAMES[(n * 7) % len(demo_data.SHOPPER_LAST_NAMES)],
            password=current[username] if current.get(username) in valid else fresh,
            is_active=True,
        )
        for n, username in enumerate(usernames, start=1)
    ]
    User.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["username"],
        update_fields=["email", "first_name", "last_name", "password", "is_active"],
    )


def catalog_seed_demo(
    *,
    admin_password: str,
    products: int = DEMO_PRODUCTS,
    seed: int = DEMO_SEED,
    shoppers: int = DEMO_SHOPPERS,
    progress: Progress | None = None,
) -> SeedResult:
    """Build the demo catalog and accounts; running it again with the same arguments changes nothing.

    Departments, categories and brands come from the vocabulary whatever the product count.
    Demo products beyond `products` from an earlier, larger seed are deactivated, not deleted:
    orders may point at them.
    """
    if products < 0 or shoppers < 0:
        raise ValueError("products and shoppers must not be negative.")
    built = demo_products_build(count=products, seed=seed)
    # Anchored at midnight so two runs on one day write identical rows.
    anchor = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)

    with transaction.atomic():
        departments = _departments_upsert(departments=[(d.name, d.description) for d in demo_data.DEPARTMENTS])
        categories, _ = _categories_upsert(
            categories=[
                (departments[d.name], spec.name, f"{spec.name} from £{spec.price[0]} to £{spec.price[1]}.")
                for d in demo_data.DEPARTMENTS
                for spec in d.categories
            ]
        )
        brands = _brands_upsert(brands=[(b.name, b.tagline) for b in demo_data.BRANDS])
        rows = [
            Product(
                sku=p.sku,
                slug=_product_slug(p.title, p.sku),
                title=p.title,
                description=p.description,
                category=categories[slugify(p.category)],
                brand=brands[p.brand],
                price=p.price,
                compare_at_price=p.compare_at_price,
                stock=p.stock,
                attributes=p.attributes,
                is_active=True,
            )
            for p in built
        ]
        saved, created = _products_upsert(
            products=rows,
            update_fields=[
                "slug",
                "title",
                "description",
                "category",
                "brand",
                "price",
                "compare_at_price",
                "stock",
                "attributes",
                "is_active",
                "updated_at",
            ],
            progress=progress,
        )
        _created_at_set(rows=saved, wanted={p.sku: anchor - p.age for p in built})
        _placeholder_images_sync(images={saved[p.sku][0]: (p.title, p.background) for p in built})
        deactivated = _demo_products_beyond(count=products)
        _demo_users_ensure(shoppers=shoppers, admin_password=admin_password)

    return SeedResult(
        departments=len(departments),
        categories=len(categories),
        brands=len(brands),
        products=len(built),
        products_created=created,
        products_deactivated=deactivated,
        shoppers=shoppers,
        admin_username=DEMO_ADMIN_USERNAME,
    )


def _demo_products_beyond(*, count: int) -> int:
    stale = [
        pk
        for pk, sku in Product.objects.filter(sku__startswith=DEMO_SKU_PREFIX, is_active=True).values_list("pk", "sku")
        if DEMO_SKU.match(sku) and int(sku[len(DEMO_SKU_PREFIX) :]) > count
    ]
    for batch in _chunks(stale, LOOKUP_BATCH_SIZE):
        Product.objects.filter(pk__in=batch).update(is_active=False, updated_at=timezone.now())
    return len(stale)


# ---------------------------------------------------------------------------------------------
# Online Retail import


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
        departments = _departments_upsert(
            departments=[(name, DEPARTMENT_DESCRIPTIONS.get(name, "")) for name in dict.fromkeys(d for d, _ in ordered)]
        )
        categories, categories_created = _categories_upsert(
            categories=[(departments[department], name, "") for department, name in ordered]
        )
        rows = [
            Product(
                sku=p.sku,
                slug=_product_slug(p.title, p.sku),
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
        saved, created = _products_upsert(
            products=rows,
            update_fields=["slug", "title", "description", "category", "brand", "price", "attributes", "updated_at"],
            progress=progress,
        )
        _created_at_set(rows=saved, wanted={p.sku: p.first_sold for p in catalog.products})
        _placeholder_images_sync(images={saved[p.sku][0]: (p.title, p.background) for p in catalog.products})

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
