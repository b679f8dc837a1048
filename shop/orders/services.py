"""Writes of carts and orders: stock checks, cart merge, and atomic checkout."""

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from merchandising.api import CouponError, coupon_accept, order_discount, order_redeem
from shop.catalog.models import Product
from shop.catalog.snapshot import catalog_changed
from tracking.api import scrub

from .models import Cart, CartLine, Order, OrderLine, OrderNotification
from .notifications import notification_queue
from .selectors import SESSION_CART_KEY, cart_for_session, cart_summary, discount_lines


class CartError(ValueError):
    """A cart or checkout request that cannot be honoured; the message is for the shopper."""

    status = 400


class OutOfStock(CartError):
    status = 409


class ProductUnavailable(CartError):
    status = 404


class PaymentDeclined(CartError):
    status = 402


class CouponRefused(CartError):
    status = 409


ALREADY_PLACED = "This order was already placed; you were not charged again."


class AlreadyPlaced(CartError):
    """This checkout form placed its order before (a double click, a retry); nothing was charged again."""

    status = 409

    def __init__(self, order: Order):
        super().__init__(ALREADY_PLACED)
        self.order = order


@dataclass(frozen=True)
class ShippingAddress:
    full_name: str
    email: str
    address_line1: str
    city: str
    postcode: str
    country: str = "GB"
    address_line2: str = ""


def _check_quantity(quantity: int) -> None:
    if quantity < 1:
        raise CartError("Quantity must be at least 1.")
    if quantity > settings.CART_MAX_QUANTITY:
        raise CartError(f"You can buy at most {settings.CART_MAX_QUANTITY} of one item.")


def _sellable(product_id: int) -> Product:
    product = Product.objects.filter(pk=product_id, is_active=True).first()
    if product is None:
        raise ProductUnavailable("That product is not available.")
    return product


def cart_get_or_create(*, session, user: AbstractBaseUser | None) -> Cart:
    if user is not None and user.is_authenticated:
        cart, _ = Cart.objects.get_or_create(user=user)
        return cart
    cart = cart_for_session(session=session, user=None)
    if cart is None:
        cart = Cart.objects.create()
        session[SESSION_CART_KEY] = cart.pk
    return cart


def cart_add_item(*, cart: Cart, product_id: int, quantity: int = 1) -> CartLine:
    """Add to the quantity already in the cart, never beyond what is in stock."""
    _check_quantity(quantity)
    product = _sellable(product_id)
    line = CartLine.objects.filter(cart=cart, product=product).first()
    wanted = quantity + (line.quantity if line else 0)
    _check_quantity(wanted)
    if product.stock < wanted:
        if product.stock == 0:
            raise OutOfStock(f"Sorry, “{product.title}” is out of stock.")
        raise OutOfStock(f"Only {product.stock} of “{product.title}” left in stock.")
    if line is None:
        try:
            with transaction.atomic():
                line = CartLine.objects.create(cart=cart, product=product, quantity=wanted)
        except IntegrityError:
            # Two tabs adding the same product at once: the other request made the line.
            return cart_add_item(cart=cart, product_id=product_id, quantity=quantity)
    else:
        line.quantity = wanted
        line.save(update_fields=["quantity"])
    cart.save(update_fields=["updated_at"])
    return line


@dataclass(frozen=True)
class CartChange:
    """What a cart edit did to one product's quantity (negative when it went down)."""

    product: Product
    delta: int


def cart_set_quantity(*, cart: Cart, product_id: int, quantity: int) -> CartChange:
    """Set a line's quantity; zero removes the line."""
    if quantity == 0:
        return cart_remove_item(cart=cart, product_id=product_id)
    _check_quantity(quantity)
    line = CartLine.objects.filter(cart=cart, product_id=product_id).select_related("product").first()
    if line is None:
        raise CartError("That product is not in your cart.")
    if line.product.stock < quantity:
        raise OutOfStock(f"Only {line.product.stock} of “{line.product.title}” left in stock.")
    change = CartChange(product=line.product, delta=quantity - line.quantity)
    line.quantity = quantity
    line.save(update_fields=["quantity"])
    cart.save(update_fields=["updated_at"])
    return change


def cart_remove_item(*, cart: Cart, product_id: int) -> CartChange:
    line = CartLine.objects.filter(cart=cart, product_id=product_id).select_related("product").first()
    if line is None:
        raise CartError("That product is not in your cart.")
    line.delete()
    cart.save(update_fields=["updated_at"])
    return CartChange(product=line.product, delta=-line.quantity)


@transaction.atomic
def cart_merge(*, anonymous_cart: Cart, user: AbstractBaseUser) -> Cart:
    """Fold an anonymous cart into the user's own; quantities add up, capped by stock."""
    user_cart, _ = Cart.objects.get_or_create(user=user)
    if anonymous_cart.pk == user_cart.pk:
        return user_cart
    # The cart before its lines, in the order checkout locks them, so a login in one tab and a
    # checkout in another queue up instead of deadlocking.
    Cart.objects.select_for_update().filter(pk=user_cart.pk).first()
    existing = {line.product_id: line for line in user_cart.lines.select_for_update()}
    for line in anonymous_cart.lines.select_related("product"):
        if not line.product.is_active or line.product.stock == 0:
            continue
        current = existing.get(line.product_id)
        wanted = min(
            line.quantity + (current.quantity if current else 0),
            line.product.stock,
            settings.CART_MAX_QUANTITY,
        )
        if current:
            current.quantity = wanted
            current.save(update_fields=["quantity"])
        else:
            CartLine.objects.create(cart=user_cart, product=line.product, quantity=wanted)
    # A code entered before logging in stays, unless the account's cart has one of its own.
    if anonymous_cart.coupon_code and not user_cart.coupon_code:
        user_cart.coupon_code = anonymous_cart.coupon_code
    anonymous_cart.delete()
    user_cart.save(update_fields=["updated_at", "coupon_code"])
    return user_cart


def _luhn_valid(number: str) -> bool:
    digits = [int(d) for d in number]
    checksum = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        checksum += d
    return checksum % 10 == 0


def payment_authorise(*, card_number: str, amount: Decimal) -> str:
    """A simulated card payment: well-formed numbers pass, except the test decline card."""
    number = card_number.replace(" ", "").replace("-", "")
    if not number.isdigit() or not 12 <= len(number) <= 19 or not _luhn_valid(number):
        raise PaymentDeclined("That card number is not valid.")
    if number.endswith("0002"):
        raise PaymentDeclined("Your card was declined. No money was taken; try another card.")
    return f"sim_{secrets.token_hex(12)}"


def _order_number() -> str:
    """LL- and eight hex digits, drawn again when seven digits fall in a row: the event record
    masks what reads as a phone number, and the purchase event would no longer name its order."""
    while True:
        number = "LL-" + secrets.token_hex(4).upper()
        if scrub(number) == number:
            return number


CHECKOUT_FORM_SALT = "shop.orders.checkout"


def checkout_token_issue(*, cart: Cart) -> str:
    """A signed token for one checkout form of this cart, carrying that form's checkout key."""
    return signing.dumps({"cart": cart.pk, "key": uuid.uuid4().hex}, salt=CHECKOUT_FORM_SALT)


def checkout_key_read(*, token: str, cart: Cart | None) -> uuid.UUID:
    """The checkout key of a token issued for this very cart.

    Signed and bound to the cart, a key cannot be guessed or carried to another cart, so an
    order found by it is one this shopper placed. Raises CartError for anything else.
    """
    try:
        payload = signing.loads(token, salt=CHECKOUT_FORM_SALT)
        if cart is not None and payload["cart"] == cart.pk:
            return uuid.UUID(payload["key"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        pass
    raise CartError("This checkout page is out of date: check your order below and place it again.")


def order_place(
    *,
    cart: Cart,
    user: AbstractBaseUser | None,
    address: ShippingAddress,
    card_number: str,
    checkout_key: uuid.UUID | None = None,
) -> Order:
    """Turn a cart into a paid order, taking the stock atomically or not at all.

    The cart row is locked first, so submissions of one cart queue up and each reads the lines
    the one before it left: a cart is bought once however often its checkout is sent. A
    submission whose checkout_key placed an order already raises AlreadyPlaced with that order,
    before anything is charged. Stock is taken with a conditional UPDATE per product, in
    product-id order so two checkouts never deadlock; if any product lacks stock the whole
    order rolls back. The confirmation mail is owed in the same transaction (an outbox row) and
    sent after the commit; nothing after the commit can fail the caller.
    """
    with transaction.atomic():
        locked = Cart.objects.select_for_update().filter(pk=cart.pk).first()
        if checkout_key is not None and (placed := Order.objects.filter(checkout_key=checkout_key).first()):
            raise AlreadyPlaced(placed)
        summary = cart_summary(cart=locked)
        if summary.is_empty:
            raise CartError("Your cart is empty.")
        try:
            discount = order_discount(
                lines=discount_lines(summary.lines),
                subtotal=summary.subtotal,
                code=locked.coupon_code,
                user=user,
                email=address.email,
            )
        except CouponError as error:
            raise CouponRefused(f"{error} Remove it from your cart to order without it.") from None
        off = discount.amount if discount else Decimal("0.00")
        total = summary.subtotal - off + summary.shipping
        for line in sorted(summary.lines, key=lambda line: line.product_id):
            taken = Product.objects.filter(pk=line.product_id, is_active=True, stock__gte=line.quantity).update(
                stock=F("stock") - line.quantity
            )
            if not taken:
                raise OutOfStock(f"Sorry, “{line.product.title}” sold out before we could reserve it.")
        catalog_changed()  # the stock shown on pages
        reference = payment_authorise(card_number=card_number, amount=total)
        order = Order.objects.create(
            number=_order_number(),
            user=user if user is not None and user.is_authenticated else None,
            email=address.email,
            full_name=address.full_name,
            address_line1=address.address_line1,
            address_line2=address.address_line2,
            city=address.city,
            postcode=address.postcode,
            country=address.country,
            currency=settings.SHOP_CURRENCY,
            subtotal=summary.subtotal,
            shipping=summary.shipping,
            discount=off,
            discount_label=discount.label if discount else "",
            coupon_code=discount.code if discount else "",
            total=total,
            status=Order.Status.PAID,
            payment_reference=reference,
            card_last4=card_number.replace(" ", "")[-4:],
            checkout_key=checkout_key,
        )
        OrderLine.objects.bulk_create(
            OrderLine(
                order=order,
                product=line.product,
                sku=line.product.sku,
                title=line.product.title,
                unit_price=line.product.price,
                quantity=line.quantity,
                line_total=line.line_total,
            )
            for line in summary.lines
        )
        if discount is not None:
            order_redeem(discount=discount, order=order, user=user, email=address.email)
        locked.lines.all().delete()
        Cart.objects.filter(pk=locked.pk).update(coupon_code="")
        notification_queue(order=order, kind=OrderNotification.Kind.CONFIRMATION)
    return order


def cart_coupon_set(*, cart: Cart, code: str) -> str:
    """Keep a coupon code on the cart once it fits the cart; an empty code takes it off.
    Raises CouponRefused with the shopper's reason otherwise."""
    if not code.strip():
        Cart.objects.filter(pk=cart.pk).update(coupon_code="")
        return ""
    summary = cart_summary(cart=cart)
    try:
        kept = coupon_accept(code=code, lines=discount_lines(summary.lines), subtotal=summary.subtotal)
    except CouponError as error:
        raise CouponRefused(str(error)) from None
    Cart.objects.filter(pk=cart.pk).update(coupon_code=kept)
    cart.coupon_code = kept
    return kept


def carts_purge_abandoned(*, older_than_days: int) -> int:
    """Delete anonymous carts nobody has touched for a while; returns how many."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _ = Cart.objects.filter(user__isnull=True, updated_at__lt=cutoff).delete()
    return deleted


def order_set_status(*, order: Order, status: str) -> Order:
    """Move an order along; a cancellation puts its stock back."""
    if status not in Order.Status.values:
        raise ValueError(f"Unknown order status {status!r}.")
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status == status:
            return locked
        if locked.status == Order.Status.CANCELLED:
            raise CartError("A cancelled order cannot be reopened.")
        if status == Order.Status.CANCELLED:
            for line in locked.lines.exclude(product=None):
                Product.objects.filter(pk=line.product_id).update(stock=F("stock") + line.quantity)
            catalog_changed()
        locked.status = status
        locked.save(update_fields=["status", "updated_at"])
    return locked


ERASED = "erased"


def orders_anonymise(*, user: AbstractBaseUser) -> int:
    """Strip a person from their orders while keeping what bookkeeping law needs (what was
    sold, when, for how much); returns how many orders were anonymised. Mails still owed to them
    are dropped: they would go to the anonymised address, or to someone who asked to be forgotten."""
    OrderNotification.objects.filter(order__user=user, status=OrderNotification.Status.PENDING).delete()
    return Order.objects.filter(user=user).update(
        user=None,
        email=f"{ERASED}@invalid",
        full_name=ERASED,
        address_line1=ERASED,
        address_line2="",
        city=ERASED,
        postcode="",
        card_last4="",
    )
