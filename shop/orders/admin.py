"""Order admin: line items, status changes through the service so stock stays right."""

from django.contrib import admin, messages

from . import notifications, services
from .models import Cart, CartLine, Order, OrderLine, OrderNotification


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    fields = ("sku", "title", "unit_price", "quantity", "line_total")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class OrderNotificationInline(admin.TabularInline):
    """The order's outbox: each mail owed to the shopper, whether it went, and why not."""

    model = OrderNotification
    extra = 0
    can_delete = False
    verbose_name = "mail"
    fields = ("kind", "status", "attempts", "last_error", "created_at", "sent_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("number", "placed_at", "full_name", "email", "status", "discount", "total", "currency")
    list_filter = ("status", "placed_at", "country")
    search_fields = ("number", "email", "full_name", "postcode")
    date_hierarchy = "placed_at"
    inlines = [OrderLineInline, OrderNotificationInline]
    readonly_fields = (
        "number",
        "user",
        "subtotal",
        "shipping",
        "discount",
        "discount_label",
        "coupon_code",
        "total",
        "currency",
        "payment_reference",
        "card_last4",
        "placed_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("number", "status", "user", "email", "placed_at", "updated_at")}),
        ("Ship to", {"fields": ("full_name", "address_line1", "address_line2", "city", "postcode", "country")}),
        (
            "Money",
            {
                "fields": (
                    "subtotal",
                    "discount",
                    "discount_label",
                    "coupon_code",
                    "shipping",
                    "total",
                    "currency",
                    "payment_reference",
                    "card_last4",
                )
            },
        ),
    )
    actions = ["mark_shipped", "mark_delivered", "mark_cancelled", "mail_again"]

    def has_add_permission(self, request) -> bool:
        return False  # orders come from checkout only

    def save_model(self, request, obj, form, change):
        if change and "status" in form.changed_data:
            new_status = obj.status
            obj.status = form.initial["status"]
            obj.save(update_fields=[f for f in form.changed_data if f != "status"] or None)
            try:
                services.order_set_status(order=obj, status=new_status)
            except services.CartError as error:
                self.message_user(request, str(error), level=messages.ERROR)
            obj.refresh_from_db()
        else:
            super().save_model(request, obj, form, change)

    def _move(self, request, queryset, status: str) -> None:
        moved = 0
        for order in queryset:
            try:
                services.order_set_status(order=order, status=status)
                moved += 1
            except services.CartError as error:
                self.message_user(request, f"{order.number}: {error}", level=messages.WARNING)
        self.message_user(request, f"{moved} orders marked {status}.")

    @admin.action(description="Mark selected orders shipped")
    def mark_shipped(self, request, queryset):
        self._move(request, queryset, Order.Status.SHIPPED)

    @admin.action(description="Mark selected orders delivered")
    def mark_delivered(self, request, queryset):
        self._move(request, queryset, Order.Status.DELIVERED)

    @admin.action(description="Cancel selected orders and restock")
    def mark_cancelled(self, request, queryset):
        self._move(request, queryset, Order.Status.CANCELLED)

    @admin.action(description="Send mails given up on again")
    def mail_again(self, request, queryset):
        owed = notifications.notifications_retry(orders=queryset)
        self.message_user(request, f"{owed} mails will be sent again within a minute.")


class CartLineInline(admin.TabularInline):
    model = CartLine
    extra = 0
    raw_id_fields = ("product",)


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "created_at", "updated_at")
    list_filter = ("updated_at",)
    search_fields = ("user__username", "user__email")
    raw_id_fields = ("user",)
    inlines = [CartLineInline]
