"""Cart and order models; an order copies prices and titles so history never changes."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.urls import reverse

from shop.catalog.models import Product


class Cart(models.Model):
    """A shopper's cart: owned by a user, or anonymous and found through the session."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="cart"
    )
    # The coupon the shopper entered; checked again each time the cart is shown and when ordering.
    coupon_code = models.CharField(max_length=33, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["updated_at"], name="cart_updated")]

    def __str__(self) -> str:
        return f"Cart {self.pk} of {self.user or 'an anonymous shopper'}"


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField()
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "product"], name="cartline_one_per_product"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="cartline_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product}"

    @property
    def line_total(self) -> Decimal:
        return self.product.price * self.quantity


class Order(models.Model):
    class Status(models.TextChoices):
        PLACED = "placed", "Placed"
        PAID = "paid", "Paid"
        SHIPPED = "shipped", "Shipped"
        DELIVERED = "delivered", "Delivered"
        CANCELLED = "cancelled", "Cancelled"

    number = models.CharField(max_length=20, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    email = models.EmailField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PLACED)
    full_name = models.CharField(max_length=120)
    address_line1 = models.CharField("address", max_length=200)
    address_line2 = models.CharField("address (line 2)", max_length=200, blank=True)
    city = models.CharField(max_length=100)
    postcode = models.CharField(max_length=20)
    country = models.CharField(max_length=2, default="GB")
    currency = models.CharField(max_length=3, default="GBP")
    subtotal = models.DecimalField(max_digits=12, decimal_places=2)
    shipping = models.DecimalField(max_digits=10, decimal_places=2)
    discount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    discount_label = models.CharField("discount", max_length=200, blank=True)
    coupon_code = models.CharField(max_length=32, blank=True)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    payment_reference = models.CharField(max_length=64, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    # The key of the checkout form that placed it: however often that form is sent, one order.
    checkout_key = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    placed_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-placed_at"]
        indexes = [
            models.Index(fields=["user", "-placed_at"], name="order_user_history"),
            models.Index(fields=["status", "-placed_at"], name="order_status"),
        ]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse("orders:detail", kwargs={"number": self.number})

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines.all())


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.SET_NULL, null=True, related_name="order_lines")
    sku = models.CharField("SKU", max_length=40)
    title = models.CharField(max_length=200)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    quantity = models.PositiveIntegerField()
    line_total = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.title}"


class OrderNotification(models.Model):
    """A mail owed to the shopper about an order (an outbox row): written in the order's own
    transaction, so it exists exactly when the order does, and sent once by a worker."""

    class Kind(models.TextChoices):
        CONFIRMATION = "confirmation", "Order confirmation"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["order", "kind"], name="ordernotification_one_per_kind")]
        # The sweep reads only what is still owed, a handful of rows among all ever sent.
        indexes = [models.Index(fields=["id"], condition=models.Q(status="pending"), name="ordernotification_pending")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.order}: {self.get_status_display()}"
