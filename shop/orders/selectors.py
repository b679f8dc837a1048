"""Reads of carts and orders."""

import hmac
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from merchandising.api import Line, cart_discount
from shop.catalog.models import ProductImage

from .models import Cart, CartLine, Order, OrderLine

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


def order_for_guest(*, number: str, email: str) -> Order | None:
    """The order of a guest (placed without an account) with this number and e-mail, or None.

    A wrong number and a wrong e-mail come back alike: the e-mails are compared in constant
    time, against a stand-in when there is no such order, so neither the answer nor its time
    tells a guesser that a number exists. An account's orders are found by logging in.
    """
    order = Order.objects.filter(number=number, user__isnull=True).prefetch_related("lines__product__images").first()
    given = email.strip().lower().encode()
    held = order.email.strip().lower().encode() if order is not None else b"\x00" * len(given)
    return order if hmac.compare_digest(given, held) and order is not None else None


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


@dataclass(frozen=True)
class Sales:
    """Orders and revenue (order totals, cancelled orders left out) since two moments, and
    orders_by_day: (day, orders) of each day of the week that had any."""

    orders_today: int
    orders_week: int
    revenue_today: Decimal
    revenue_week: Decimal
    orders_by_day: list[tuple[date, int]]


def sales_summary(*, today_start: datetime, week_start: datetime) -> Sales:
    """The admin dashboard's sales, in two queries."""
    week = Order.objects.filter(placed_at__gte=week_start).exclude(status=Order.Status.CANCELLED)
    today = Q(placed_at__gte=today_start)
    totals = week.aggregate(
        orders_week=Count("id"),
        orders_today=Count("id", filter=today),
        revenue_week=Sum("total"),
        revenue_today=Sum("total", filter=today),
    )
    days = week.annotate(day=TruncDate("placed_at")).values("day").annotate(orders=Count("id")).order_by("day")
    return Sales(
        orders_today=totals["orders_today"],
        orders_week=totals["orders_week"],
        revenue_today=totals["revenue_today"] or Decimal("0.00"),
        revenue_week=totals["revenue_week"] or Decimal("0.00"),
        orders_by_day=[(row["day"], row["orders"]) for row in days],
    )


@dataclass(frozen=True)
class ProductSales:
    product_id: int | None
    title: str
    units: int
    revenue: Decimal


def top_products(*, since: datetime, limit: int = 10) -> list[ProductSales]:
    """The products that sold most units since a moment (cancelled orders left out), in one query."""
    rows = (
        OrderLine.objects.filter(order__placed_at__gte=since)
        .exclude(order__status=Order.Status.CANCELLED)
        .values("product_id", "title")
        .annotate(units=Sum("quantity"), revenue=Sum("line_total"))
        .order_by("-units", "-revenue", "title")[:limit]
    )
    return [ProductSales(**row) for row in rows]
