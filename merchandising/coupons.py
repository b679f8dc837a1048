"""Offers on a cart and coupons: which discount a cart gets (the best one, never stacked), and a
coupon's redemption, decided in the order's own transaction with the coupon's row locked."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import F, Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from .models import Coupon, CouponRedemption, Offer

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_CODE = 32


class CouponError(ValueError):
    """A code that cannot be used now, with the reason a shopper reads."""


@dataclass(frozen=True)
class Line:
    """A cart line as an offer sees it."""

    product_id: int
    category_id: int
    unit_price: Decimal
    quantity: int

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class Discount:
    offer_id: int
    label: str
    amount: Decimal
    code: str = ""  # the coupon it came with, "" for an automatic offer
    coupon_id: int | None = None


def customer_digest(*, email: str) -> str:
    """Who a guest is for "once per customer", without keeping their address beside the coupon."""
    return salted_hmac("merchandising.coupon-customer", email.strip().casefold()).hexdigest()


def code_normalise(code: str) -> str:
    return "".join(str(code).split()).upper()[: MAX_CODE + 1]


def _scheduled_now(now: datetime) -> Q:
    return (
        Q(is_active=True)
        & (Q(starts_at__isnull=True) | Q(starts_at__lte=now))
        & (Q(ends_at__isnull=True) | Q(ends_at__gt=now))
    )


def offer_amount(*, offer: Offer, lines: Sequence[Line], subtotal: Decimal) -> Decimal:
    """What an offer takes off these lines: zero below its minimum spend or when nothing it is
    on is in the cart; never more than what it is on, so a total never goes below zero."""
    if subtotal < offer.min_spend:
        return ZERO
    if offer.target == Offer.Target.PRODUCT:
        base = sum((line.total for line in lines if line.product_id == offer.product_id), ZERO)
    elif offer.target == Offer.Target.CATEGORY:
        base = sum((line.total for line in lines if line.category_id == offer.category_id), ZERO)
    else:
        base = subtotal
    if base <= 0:
        return ZERO
    if offer.kind == Offer.Kind.PERCENT:
        amount = (base * offer.value / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    else:
        amount = offer.value
    return min(amount, base)


def offers_automatic(*, lines: Sequence[Line], now: datetime) -> list[Offer]:
    """The automatic offers that can touch these lines, found by their target in one indexed
    query: a cart with three products reads the offers on those, not every offer there is."""
    products = {line.product_id for line in lines}
    categories = {line.category_id for line in lines}
    return list(
        Offer.objects.filter(_scheduled_now(now), automatic=True)
        .filter(
            Q(target=Offer.Target.CART)
            | Q(target=Offer.Target.PRODUCT, product_id__in=products)
            | Q(target=Offer.Target.CATEGORY, category_id__in=categories)
        )
        .order_by("id")
    )


def coupon_find(code: str, *, now: datetime, for_update: bool = False) -> Coupon:
    """The coupon of a code that is valid now (usage limits aside), or CouponError saying why not."""
    normal = code_normalise(code)
    if not normal:
        raise CouponError("Enter a coupon code.")
    if len(normal) > MAX_CODE or not all(ch.isalnum() or ch == "-" for ch in normal):
        raise CouponError("That is not a coupon code: codes are letters, digits and dashes.")
    found = Coupon.objects.select_related("offer", "offer__product", "offer__category")
    if for_update:
        found = found.select_for_update(of=("self",))
    coupon = found.filter(code__iexact=normal).first()
    if coupon is None:
        raise CouponError(f"No coupon has the code {normal}.")
    if not coupon.is_active or not coupon.offer.is_active:
        raise CouponError(f"The coupon {normal} is no longer valid.")
    for starts, ends in ((coupon.starts_at, coupon.ends_at), (coupon.offer.starts_at, coupon.offer.ends_at)):
        if starts is not None and now < starts:
            raise CouponError(f"The coupon {normal} is valid from {timezone.localtime(starts):%-d %B %Y, %H:%M}.")
        if ends is not None and now >= ends:
            raise CouponError(f"The coupon {normal} expired on {timezone.localtime(ends):%-d %B %Y}.")
    if _used_up(coupon):
        raise CouponError(f"The coupon {normal} has been used up.")
    return coupon


def _used_up(coupon: Coupon) -> bool:
    limit = 1 if coupon.usage == Coupon.Usage.SINGLE else coupon.max_redemptions
    return limit is not None and coupon.times_redeemed >= limit


def _customer_uses(coupon: Coupon, *, user, customer: str) -> int:
    mine = Q(customer=customer)
    if user is not None and user.is_authenticated:
        mine |= Q(user=user)
    return CouponRedemption.objects.filter(mine, coupon=coupon).count()


def _customer_check(coupon: Coupon, *, user, customer: str) -> None:
    limit = 1 if coupon.usage == Coupon.Usage.ONCE_PER_CUSTOMER else coupon.per_customer_limit
    if limit is not None and _customer_uses(coupon, user=user, customer=customer) >= limit:
        raise CouponError(f"You have already used the coupon {coupon.code}.")


def coupon_discount(coupon: Coupon, *, lines: Sequence[Line], subtotal: Decimal) -> Discount:
    """What a valid coupon takes off this cart, or CouponError when it does not fit the cart."""
    offer = coupon.offer
    if subtotal < offer.min_spend:
        raise CouponError(f"Spend £{offer.min_spend - subtotal:.2f} more to use {coupon.code} ({offer.describe()}).")
    amount = offer_amount(offer=offer, lines=lines, subtotal=subtotal)
    if amount <= 0:
        raise CouponError(f"{coupon.code} is for {offer.describe()}, which is not in your cart.")
    return Discount(offer_id=offer.pk, label=offer.describe(), amount=amount, code=coupon.code, coupon_id=coupon.pk)


def _automatic(*, lines: Sequence[Line], subtotal: Decimal, now: datetime) -> list[Discount]:
    found = []
    for offer in offers_automatic(lines=lines, now=now):
        amount = offer_amount(offer=offer, lines=lines, subtotal=subtotal)
        if amount > 0:
            found.append(Discount(offer_id=offer.pk, label=offer.describe(), amount=amount))
    return found


def _best(found: Sequence[Discount]) -> Discount | None:
    """Discounts do not stack: the largest wins, a tie goes to the older offer."""
    return max(found, key=lambda discount: (discount.amount, -discount.offer_id), default=None)


def discount_best(
    *, lines: Sequence[Line], subtotal: Decimal, code: str = "", now: datetime | None = None
) -> tuple[Discount | None, str]:
    """The one discount this cart gets, of its automatic offers and its coupon's; with it, why
    the code does not apply ("" when it does or there is none)."""
    now = now or timezone.now()
    coupon, problem = None, ""
    if code:
        try:
            coupon = coupon_discount(coupon_find(code, now=now), lines=lines, subtotal=subtotal)
        except CouponError as error:
            problem = str(error)
    best = _best([*([coupon] if coupon else []), *_automatic(lines=lines, subtotal=subtotal, now=now)])
    if coupon is not None and best is not coupon:
        problem = f"{coupon.code} takes off less than the offer you already have, so it is not used."
    return best, problem


def discount_for_order(
    *, lines: Sequence[Line], subtotal: Decimal, code: str, user, email: str, now: datetime | None = None
) -> Discount | None:
    """The discount an order gets, decided inside its transaction: the coupon's row is locked
    (select_for_update) before its limits are read, so of twenty checkouts racing for a
    single-use code one redeems it and the others wait, then find it used up. Raises
    CouponError when the code the shopper saw no longer applies: they see why and decide."""
    now = now or timezone.now()
    coupon = None
    if code:
        locked = coupon_find(code, now=now, for_update=True)
        _customer_check(locked, user=user, customer=customer_digest(email=email))
        coupon = coupon_discount(locked, lines=lines, subtotal=subtotal)
    return _best([*([coupon] if coupon else []), *_automatic(lines=lines, subtotal=subtotal, now=now)])


def coupon_redeem(*, discount: Discount, order, user, email: str) -> None:
    """Record the coupon's use by this order; call inside the order's transaction, after
    discount_for_order locked the coupon."""
    if discount.coupon_id is None:
        return
    CouponRedemption.objects.create(
        coupon_id=discount.coupon_id,
        order=order,
        user=user if user is not None and user.is_authenticated else None,
        customer=customer_digest(email=email),
        amount=discount.amount,
    )
    Coupon.objects.filter(pk=discount.coupon_id).update(times_redeemed=F("times_redeemed") + 1)
