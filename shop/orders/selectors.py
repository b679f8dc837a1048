"""Reads of carts and orders."""

import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Prefetch, QuerySet, Sum

from merchandising.api import Line, cart_discount
from shop.catalog.models import ProductImage

from .models import Cart, CartLine, Order

SESSION_CART_KEY = "cart_id"
# Free delivery from this subtotal; below it a flat rate. Placeholders a merchant would set.
FREE_SHIPPING_FROM = Decimal("50.00")
FLAT_SHIPPING = Decimal("4.95")


@dataclass(frozen=True)
class CartSummary:
    lines: list[CartLine]
    subtotal: Decimal
    shipping: Decimal
    total: Decimal
    item_count: int
    discount: Decimal = Decimal("0.00")
    discount_label: str = ""
    coupon_code: str = ""
    # Why the cart's coupon does not apply now ("" when it does or there is none).
    coupon_problem: str = ""

    @property
    def is_empty(self) -> bool:
        return not self.lines

    @property
    def free_shipping_remaining(self) -> Decimal:
        """How much more to spend for free delivery (zero once reached)."""
        return max(FREE_SHIPPING_FROM - self.subtotal, Decimal("0.00"))


def shipping_for(*, subtotal: Decimal) -> Decimal:
    if subtotal <= 0 or subtotal >= FREE_SHIPPING_FROM:
        return Decimal("0.00")
    return FLAT_SHIPPING


def cart_for_session(*, session, user: AbstractBaseUser | None) -> Cart | None:
    """The cart of a signed-in user, or the anonymous cart the session points at."""
    if user is not None and user.is_authenticated:
        return Cart.objects.filter(user=user).first()
    raw = session.get(SESSION_CART_KEY)
    try:
        cart_id = int(raw)
    except (TypeError, ValueError):
        # A garbled or tampered value: forget it rather than fail the page.
        session.pop(SESSION_CART_KEY, None)
        return None
    # An anonymous session may never reach a cart that belongs to a user.
    cart = Cart.objects.filter(pk=cart_id, user__isnull=True).first()
    if cart is None:
        session.pop(SESSION_CART_KEY, None)
    return cart


def cart_item_count(*, cart: Cart | None) -> int:
    """Units in the cart, as the header's cart link counts them."""
    return (cart.lines.aggregate(n=Sum("quantity"))["n"] or 0) if cart else 0


def cart_summary(*, cart: Cart | None) -> CartSummary:
    if cart is None:
        return CartSummary(
            lines=[], subtotal=Decimal("0.00"), shipping=Decimal("0.00"), total=Decimal("0.00"), item_count=0
        )
    lines = list(
        cart.lines.select_related("product", "product__brand", "product__category").prefetch_related(
            Prefetch("product__images", queryset=ProductImage.objects.order_by("position", "id"))
        )
    )
    subtotal = sum((line.line_total for line in lines), Decimal("0.00"))
    shipping = shipping_for(subtotal=subtotal)
    discount, problem = (
        cart_discount(lines=discount_lines(lines), subtotal=subtotal, code=cart.coupon_code) if lines else (None, "")
    )
    taken = discount.amount if discount else Decimal("0.00")
    return CartSummary(
        lines=lines,
        subtotal=subtotal,
        shipping=shipping,
        # Free delivery is earned on the subtotal before the discount.
        total=subtotal - taken + shipping,
        item_count=sum(line.quantity for line in lines),
        discount=taken,
        discount_label=discount.label if discount else "",
        coupon_code=cart.coupon_code,
        coupon_problem=problem,
    )


def discount_lines(lines: list[CartLine]) -> list[Line]:
    """Cart lines as offers read them."""
    return [
        Line(
            product_id=line.product_id,
            category_id=line.product.category_id,
            unit_price=line.product.price,
            quantity=line.quantity,
        )
        for line in lines
    ]


def order_list_for_user(*, user: AbstractBaseUser) -> QuerySet[Order]:
    return Order.objects.filter(user=user).prefetch_related("lines")


def order_for_checkout_key(*, key: uuid.UUID) -> Order | None:
    """The order a checkout form placed, if it placed one."""
    return Order.objects.filter(checkout_key=key).first()


def order_visible_to(*, number: str, user: AbstractBaseUser | None, session) -> Order | None:
    """An order its owner may see: a signed-in owner, or the session that just placed it."""
    order = Order.objects.filter(number=number).prefetch_related("lines__product__images").first()
    if order is None:
        return None
    if user is not None and user.is_authenticated and order.user_id == user.pk:
        return order
    if number in session.get("placed_orders", []):
        return order
    return None


def orders_export(*, user: AbstractBaseUser) -> list[dict]:
    """A person's orders as plain data, for the privacy download."""
    return [
        {
            "number": order.number,
            "placed_at": order.placed_at.isoformat(),
            "status": order.status,
            "email": order.email,
            "ship_to": [
                order.full_name,
                order.address_line1,
                order.address_line2,
                order.city,
                order.postcode,
                order.country,
            ],
            "total": str(order.total),
            "currency": order.currency,
            "lines": [
                {"sku": line.sku, "title": line.title, "quantity": line.quantity, "unit_price": str(line.unit_price)}
                for line in order.lines.all()
            ],
        }
        for order in order_list_for_user(user=user)
    ]
