"""Catalog admin for merchandisers: products with inline images, categories, brands."""

from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html

from .models import Brand, Category, Department, Product, ProductImage, Review
from .services.reviews import reviews_publish
from .snapshot import catalog_changed


class CategoryInline(admin.TabularInline):
    model = Category
    extra = 0
    prepopulated_fields = {"slug": ("name",)}
    fields = ("name", "slug", "position")


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "position", "category_count")
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("name",)
    inlines = [CategoryInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(category_count=Count("categories"))

    @admin.display(ordering="category_count", description="categories")
    def category_count(self, obj: Department) -> int:
        return obj.category_count


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "department", "slug", "position", "product_count")
    list_filter = ("department",)
    list_select_related = ("department",)
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("name", "department__name")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(product_count=Count("products"))

    @admin.display(ordering="product_count", description="products")
    def product_count(self, obj: Category) -> int:
        return obj.product_count


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "product_count")
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("name",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(product_count=Count("products"))

    @admin.display(ordering="product_count", description="products")
    def product_count(self, obj: Brand) -> int:
        return obj.product_count


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    extra = 0
    fields = ("preview", "image", "alt", "background", "position")
    readonly_fields = ("preview",)

    @admin.display(description="preview")
    def preview(self, obj: ProductImage) -> str:
        if not obj.pk:
            return "—"
        return format_html('<img src="{}" alt="" width="64" height="64">', obj.url)


class StockFilter(admin.SimpleListFilter):
    title = "stock"
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [("out", "Out of stock"), ("low", "Low (1–5)"), ("in", "In stock")]

    def queryset(self, request, queryset):
        if self.value() == "out":
            return queryset.filter(stock=0)
        if self.value() == "low":
            return queryset.filter(stock__range=(1, 5))
        if self.value() == "in":
            return queryset.filter(stock__gt=0)
        return queryset


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("title", "sku", "category", "brand", "price", "compare_at_price", "stock", "is_active")
    list_editable = ("price", "stock", "is_active")
    list_filter = ("is_active", StockFilter, "category__department", "category", "brand")
    list_select_related = ("category", "category__department", "brand")
    search_fields = ("title", "sku", "description", "brand__name")
    prepopulated_fields = {"slug": ("title",)}
    autocomplete_fields = ("category", "brand")
    readonly_fields = ("created_at", "updated_at")
    inlines = [ProductImageInline]
    list_per_page = 50
    fieldsets = (
        (None, {"fields": ("title", "slug", "sku", "category", "brand", "is_active")}),
        ("Price and stock", {"fields": ("price", "compare_at_price", "stock")}),
        ("Content", {"fields": ("description", "attributes")}),
        ("History", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )
    actions = ["make_active", "make_inactive"]

    @admin.action(description="Show the selected products in the shop")
    def make_active(self, request, queryset):
        updated = queryset.update(is_active=True)
        catalog_changed()
        self.message_user(request, f"{updated} products are now shown.")

    @admin.action(description="Hide the selected products from the shop")
    def make_inactive(self, request, queryset):
        updated = queryset.update(is_active=False)
        catalog_changed()
        self.message_user(request, f"{updated} products are now hidden.")


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ("product", "user", "rating", "title", "is_published", "created_at")
    list_filter = ("is_published", "rating", "created_at")
    list_editable = ("is_published",)
    list_select_related = ("product", "user")
    search_fields = ("product__title", "product__sku", "user__username", "title", "body")
    raw_id_fields = ("product", "user")
    date_hierarchy = "created_at"
    readonly_fields = ("created_at", "updated_at")
    # What waits for moderation first, newest first.
    ordering = ("is_published", "-created_at")
    actions = ["publish", "unpublish"]

    @admin.action(description="Publish the selected reviews")
    def publish(self, request, queryset):
        changed = reviews_publish(reviews=queryset, published=True)
        self.message_user(request, f"{changed} review{'s' if changed != 1 else ''} published.")

    @admin.action(description="Hide the selected reviews from the shop")
    def unpublish(self, request, queryset):
        changed = reviews_publish(reviews=queryset, published=False)
        self.message_user(request, f"{changed} review{'s' if changed != 1 else ''} hidden.")
