"""Factories of the catalog."""

import math
import random
from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from shop.catalog.models import Brand, Category, Department, Product, ProductImage, Review


class DepartmentFactory(DjangoModelFactory):
    class Meta:
        model = Department
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Department {n}")
    slug = factory.Sequence(lambda n: f"department-{n}")
    position = factory.Sequence(int)


class CategoryFactory(DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    department = factory.SubFactory(DepartmentFactory)
    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class BrandFactory(DjangoModelFactory):
    class Meta:
        model = Brand
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Brand {n}")
    slug = factory.Sequence(lambda n: f"brand-{n}")


class ProductFactory(DjangoModelFactory):
    class Meta:
        model = Product
        skip_postgeneration_save = True

    sku = factory.Sequence(lambda n: f"SKU-{n:06d}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    title = factory.Faker("catch_phrase")
    description = factory.Faker("paragraph", nb_sentences=4)
    category = factory.SubFactory(CategoryFactory)
    brand = factory.SubFactory(BrandFactory)
    price = factory.Faker("pydecimal", left_digits=3, right_digits=2, min_value=Decimal("1"), max_value=Decimal("500"))
    stock = 10
    attributes = factory.LazyFunction(lambda: {"colour": "navy", "material": "cotton"})
    is_active = True
    image = factory.RelatedFactory("tests.factories.catalog.ProductImageFactory", factory_related_name="product")


class ProductImageFactory(DjangoModelFactory):
    class Meta:
        model = ProductImage

    product = factory.SubFactory(ProductFactory, image=None)
    alt = factory.LazyAttribute(lambda o: o.product.title)
    background = "#2f5d8a"
    position = 0


class ReviewFactory(DjangoModelFactory):
    class Meta:
        model = Review

    product = factory.SubFactory(ProductFactory)
    user = factory.SubFactory("tests.factories.accounts.UserFactory")
    rating = 4
    # A review as the shop shows it; pass is_published=False for one awaiting moderation.
    is_published = True
    title = factory.Faker("sentence", nb_words=4)
    body = factory.Faker("paragraph")


ADJECTIVES = ("Linen", "Copper", "Walnut", "Woollen", "Stoneware", "Bamboo", "Velvet", "Enamel")
NOUNS = ("Teapot", "Throw", "Lamp", "Basket", "Apron", "Candle", "Planter", "Towel", "Bowl", "Cushion")


def simulator_catalog_build(products: int = 144) -> None:
    """Four departments of three categories, eight brands, prices from 3 to 300, a fifth on sale."""
    rng = random.Random(7)
    departments = [DepartmentFactory(name=f"Dept {d}", slug=f"dept-{d}") for d in range(4)]
    categories = [
        CategoryFactory(department=department, name=f"Cat {d}{c}", slug=f"cat-{d}{c}")
        for d, department in enumerate(departments)
        for c in range(3)
    ]
    brands = [BrandFactory(name=f"Maker {b}", slug=f"maker-{b}") for b in range(8)]
    for n in range(products):
        price = round(math.exp(rng.uniform(math.log(3), math.log(300))), 2)
        on_sale = rng.random() < 0.2
        ProductFactory(
            title=f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {n}",
            category=categories[n % len(categories)],
            brand=brands[rng.randrange(len(brands))],
            price=Decimal(str(price)),
            compare_at_price=Decimal(str(round(price * 1.3, 2))) if on_sale else None,
            stock=0 if rng.random() < 0.05 else 10,
            image=None,
        )
