"""The authoritative money events of cart and checkout, recorded through tracking's one API."""

import logging

from django.conf import settings
from django.http import HttpRequest

from shop.catalog.models import Product
from tracking.api import track
from tracking.payloads import commerce_props, ga4_item

from .models import Order
from .selectors import CartSummary

logger = logging.getLogger(__name__)


def _item(product: Product, quantity: int) -> dict:
    return ga4_item(item_id=product.pk, name=product.title, price=product.price, quantity=quantity)


def cart_change_record(request: HttpRequest, *, product: Product, delta: int) -> None:
    if delta == 0:
        return
    name = "add_to_cart" if delta > 0 else "remove_from_cart"
    quantity = abs(delta)
    track(
        request,
        name,
        product_id=product.pk,
        category_id=product.category_id,
        props=commerce_props(currency=settings.SHOP_CURRENCY, items=[_item(product, quantity)], quantity=quantity),
    )


def checkout_begin_record(request: HttpRequest, *, summary: CartSummary) -> None:
    track(
        request,
        "begin_checkout",
        props=commerce_props(
            currency=settings.SHOP_CURRENCY,
            value=summary.total,
            items=[_item(line.product, line.quantity) for line in summary.lines],
        ),
    )


def purchase_record(request: HttpRequest, *, order: Order) -> None:
    """Record a committed order's purchase; never raises, for the shopper has paid by now and
    must see their order whatever tracking does (track already logs what it could not store)."""
    try:
        _purchase_track(request, order=order)
    except Exception:
        logger.exception("purchase of order %s not recorded", order.number)


def _purchase_track(request: HttpRequest, *, order: Order) -> None:
    props = commerce_props(
        currency=order.currency,
        value=order.total,
        transaction_id=order.number,
        items=[
            ga4_item(item_id=line.product_id, name=line.title, price=line.unit_price, quantity=line.quantity)
            for line in order.lines.all()
            if line.product_id
        ],
    )
    if order.coupon_code:
        props["coupon"] = order.coupon_code  # GA4's name for the code an order used
    track(request, "purchase", props=props)
