"""The public face of merchandising for the storefront: the discount a cart gets, and an order's redemption."""

from django.utils import timezone

from .coupons import (
    CouponError,
    Discount,
    Line,
    coupon_discount,
    coupon_find,
    coupon_redeem,
    discount_best,
    discount_for_order,
)

__all__ = ["CouponError", "Discount", "Line", "cart_discount", "coupon_accept", "order_discount", "order_redeem"]


def coupon_accept(*, code: str, lines: list[Line], subtotal) -> str:
    """The code as it is kept, when it exists, is valid now and fits this cart; CouponError with
    the shopper's reason otherwise."""
    return coupon_discount(coupon_find(code, now=timezone.now()), lines=lines, subtotal=subtotal).code


def cart_discount(*, lines: list[Line], subtotal, code: str = "") -> tuple[Discount | None, str]:
    """The one discount a cart gets now (its coupon's or an automatic offer's, the larger), and
    why its code does not apply ("" when it does or there is none). For showing; an order
    decides again with order_discount."""
    return discount_best(lines=lines, subtotal=subtotal, code=code)


def order_discount(*, lines: list[Line], subtotal, code: str, user, email: str) -> Discount | None:
    """The discount of an order being placed; call inside its transaction (the coupon's row is
    locked until it commits). Raises CouponError when the code no longer applies."""
    return discount_for_order(lines=lines, subtotal=subtotal, code=code, user=user, email=email)


def order_redeem(*, discount: Discount, order, user, email: str) -> None:
    """Record the coupon's use by the order, in the order's transaction."""
    coupon_redeem(discount=discount, order=order, user=user, email=email)
