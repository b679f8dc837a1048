"""Product cards, each card's markup rendered once per look and kept per process.

A grid or a shelf is mostly cards, and a card's template costs far more than its data: so the
part of a card that depends only on the product is rendered once for what it shows (its look)
and reused until any of that changes, while the attributes a page gives it (list, slot,
algorithm, position) are added around it on every render.
"""

import threading
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

BODY_TEMPLATE = "catalog/partials/product_card.html"
# About 1.5 KB a card: a whole demo catalogue, or the busiest part of a large one, per process.
CARDS_KEPT = 5000
# Where a product notes its card's markup, with the currency it was rendered in.
NOTED = "_card_body"


class CardLook(NamedTuple):
    """Everything the card's template shows, and nothing else: two products with one look share markup."""

    product_id: int
    slug: str
    title: str
    price: Decimal
    compare_at_price: Decimal | None
    brand: str
    image: tuple[int, str, str] | None
    out_of_stock: bool
    currency: str


def card_look(product, *, currency: str) -> CardLook:
    image = product.main_image
    return CardLook(
        product_id=product.pk,
        slug=product.slug,
        title=product.title,
        price=product.price,
        compare_at_price=product.compare_at_price,
        brand=product.brand.name if product.brand_id else "",
        image=(image.pk, image.image.name, image.alt) if image else None,
        out_of_stock=product.stock == 0,
        currency=currency,
    )


_bodies: dict[CardLook, SafeString] = {}
_lock = threading.Lock()


def card_body(product, *, currency: str) -> SafeString:
    """The card's own markup; with DEBUG on it is rendered every time, so an edited template shows.

    The markup found is noted on the product too: a product kept with the catalogue (shop.catalog.snapshot)
    shows on page after page unchanged, and working out its look each time was half of a card's cost."""
    if settings.DEBUG:
        return mark_safe(render_to_string(BODY_TEMPLATE, {"product": product, "currency": currency}))  # noqa: S308
    noted = product.__dict__.get(NOTED)
    if noted is not None and noted[0] == currency:
        return noted[1]
    look = card_look(product, currency=currency)
    body = _bodies.get(look)
    if body is None:
        body = mark_safe(render_to_string(BODY_TEMPLATE, {"product": product, "currency": currency}))  # noqa: S308
        with _lock:
            _bodies[look] = body
            while len(_bodies) > CARDS_KEPT:
                del _bodies[next(iter(_bodies))]
    product.__dict__[NOTED] = (currency, body)
    return body


def card_bodies_prepare(products, *, currency: str) -> None:
    """Render the cards of these products that are not kept yet (a whole catalogue read at once,
    shop.catalog.snapshot): a page with shelves of products nobody has looked at in this process
    rendered each card's template on the spot, 0.2-0.3 ms a card. Nothing with DEBUG on."""
    if settings.DEBUG:
        return
    for product in products:
        card_body(product, currency=currency)


def card_html(
    product, *, currency: str, list_name: str = "", slot: str = "", algorithm: str = "", position: int | None = None
) -> SafeString:
    """A card as a grid or a shelf shows it, tagged with what impressions and clicks are attributed to."""
    # Plain string building: format_html on every card of a page cost about as much as the body.
    tags = [("data-list", list_name), ("data-slot", slot), ("data-algorithm", algorithm), ("data-position", position)]
    attributes = "".join(f' {name}="{escape(value)}"' for name, value in tags if value)
    out = " card--out" if product.stock == 0 else ""
    return mark_safe(  # noqa: S308 (the attribute values are escaped, the ids are integers)
        f'<article class="card{out}" data-track-impression data-product-id="{int(product.pk)}" '
        f'data-category-id="{int(product.category_id)}"{attributes}>{card_body(product, currency=currency)}</article>'
    )
