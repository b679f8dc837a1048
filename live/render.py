"""Push rendering: a page's recommendation slots as HTML fragments, by the template the page itself used."""

import uuid

from django.conf import settings
from django.template.loader import render_to_string

from personalization.api import page_blocks

# The pages whose slots a socket may ask for again (personalization/slots.py), and how many
# products a page may say it is about (a product page one, a cart its lines).
PAGES = frozenset({"home", "product", "cart"})
MAX_PAGE_PRODUCTS = 50
SLOT_TEMPLATE = "personalization/partials/slot.html"


def slots_render(*, page: str, products: tuple[int, ...], user_id: int | None, visitor_id: uuid.UUID) -> dict[str, str]:
    """Each filled slot of the page as the HTML the page shows for it (staff notes left out:
    a push knows no request to tell staff by)."""
    blocks = page_blocks(page=page, user_id=user_id, visitor_id=visitor_id, products=products)
    slot_page = {"page": page, "products": ",".join(str(pk) for pk in products)}
    return {
        name: render_to_string(
            SLOT_TEMPLATE, {"block": block, "slot_page": slot_page, "currency": settings.SHOP_CURRENCY}
        )
        for name, block in blocks.items()
    }
