"""The demo seed: a coherent, deterministic catalog with an admin and shopper accounts."""

import math
import random
import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from .. import demo_data
from ..models import Product
from ..snapshot import catalog_changed
from .search import search_words_refresh
from .upserts import (
    LOOKUP_BATCH_SIZE,
    Progress,
    brands_upsert,
    categories_upsert,
    chunks,
    created_at_set,
    departments_upsert,
    placeholder_images_sync,
    product_slug,
    products_upsert,
)

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
        departments = departments_upsert(departments=[(d.name, d.description) for d in demo_data.DEPARTMENTS])
        categories, _ = categories_upsert(
            categories=[
                (departments[d.name], spec.name, f"{spec.name} from £{spec.price[0]} to £{spec.price[1]}.")
                for d in demo_data.DEPARTMENTS
                for spec in d.categories
            ]
        )
        brands = brands_upsert(brands=[(b.name, b.tagline) for b in demo_data.BRANDS])
        rows = [
            Product(
                sku=p.sku,
                slug=product_slug(p.title, p.sku),
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
        saved, created = products_upsert(
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
        created_at_set(rows=saved, wanted={p.sku: anchor - p.age for p in built})
        placeholder_images_sync(images={saved[p.sku][0]: (p.title, p.background) for p in built})
        deactivated = _demo_products_beyond(count=products)
        _demo_users_ensure(shoppers=shoppers, admin_password=admin_password)
        search_words_refresh()

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
    for batch in chunks(stale, LOOKUP_BATCH_SIZE):
        Product.objects.filter(pk__in=batch).update(is_active=False, updated_at=timezone.now())
    if stale:
        catalog_changed()
    return len(stale)
