"""Catalog models: a two-level category tree (departments > categories), brands, products."""

from decimal import Decimal

from django.contrib.postgres.search import SearchVectorField
from django.core.validators import FileExtensionValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse


class Department(models.Model):
    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog:department", kwargs={"slug": self.slug})


class Category(models.Model):
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="categories")
    name = models.CharField(max_length=80)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["department__position", "position", "name"]
        verbose_name_plural = "categories"
        constraints = [
            models.UniqueConstraint(fields=["department", "name"], name="category_unique_name_per_department"),
        ]

    def __str__(self) -> str:
        return f"{self.department.name} › {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("catalog:category", kwargs={"slug": self.slug})


class Brand(models.Model):
    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProductQuerySet(models.QuerySet):
    def active(self) -> "ProductQuerySet":
        return self.filter(is_active=True)

    def in_stock(self) -> "ProductQuerySet":
        return self.filter(stock__gt=0)


class ProductManager(models.Manager):
    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().defer("search_vector")


class Product(models.Model):
    sku = models.CharField("SKU", max_length=40, unique=True)
    slug = models.SlugField(max_length=160, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="products", null=True, blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))])
    compare_at_price = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="The former price, shown struck through when above the price.",
    )
    stock = models.PositiveIntegerField(default=0)
    attributes = models.JSONField(default=dict, blank=True, help_text="Such as colour, size, material.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Kept up to date by a database trigger on Postgres; unused on the embedded SQLite.
    search_vector = SearchVectorField(null=True, editable=False)

    # The search vector is for the database to match against, never for Python to read:
    # loading it made fetching 64 products for a page's slots take 6 ms instead of 2.
    objects = ProductManager.from_queryset(ProductQuerySet)()

    class Meta:
        ordering = ["title"]
        indexes = [
            models.Index(fields=["category", "is_active", "price"], name="product_category_price"),
            models.Index(fields=["brand", "is_active"], name="product_brand"),
            models.Index(fields=["-created_at"], name="product_newest"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gt=0), name="product_price_positive"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("catalog:product", kwargs={"slug": self.slug})

    @property
    def on_sale(self) -> bool:
        return self.compare_at_price is not None and self.compare_at_price > self.price

    @property
    def colour(self) -> str:
        return str(self.attributes.get("colour", ""))

    @property
    def main_image(self) -> "ProductImage | None":
        images = list(self.images.all())
        return images[0] if images else None


class ProductImage(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    image = models.FileField(
        upload_to="products/",
        blank=True,
        validators=[FileExtensionValidator(["jpg", "jpeg", "png", "webp", "svg"])],
        help_text="Leave empty to show a generated placeholder in the product's colour.",
    )
    alt = models.CharField(max_length=200, blank=True)
    background = models.CharField(max_length=7, default="#8a9bb0", help_text="Placeholder colour, as #rrggbb.")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.alt or f"Image {self.position} of {self.product}"

    @property
    def url(self) -> str:
        if self.image:
            return self.image.url
        return reverse("catalog:placeholder", kwargs={"pk": self.pk})


class Review(models.Model):
    """A shopper's star rating and words about a product; the ratings also train recommenders."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="reviews")
    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="reviews")
    rating = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    title = models.CharField(max_length=120, blank=True)
    body = models.TextField(max_length=4000, blank=True)
    is_published = models.BooleanField(
        default=False, help_text="A review shows in the shop, and counts in its stars, once staff publish it."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["product", "user"], name="review_one_per_user"),
            models.CheckConstraint(condition=models.Q(rating__gte=1, rating__lte=5), name="review_rating_1_to_5"),
        ]
        indexes = [models.Index(fields=["product", "is_published", "-created_at"], name="review_product")]

    def __str__(self) -> str:
        return f"{self.rating}★ {self.product} by {self.user}"
