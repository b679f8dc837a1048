"""Push rendering: a page's recommendation and content slots as HTML fragments, by the page's own templates."""

import uuid

from django.conf import settings
from django.template.loader import render_to_string

from merchandising.render import CONTENT_TEMPLATE, PREFIX, content_slots, placement_context
from personalization.api import page_state

# The pages whose slots a socket may ask for again (personalization/slots.py), and how many
# products a page may say it is about (a product page one, a cart its lines).
PAGES = frozenset({"home", "product", "cart"})
MAX_PAGE_PRODUCTS = 50
SLOT_TEMPLATE = "personalization/partials/slot.html"


def slots_render(*, page: str, products: tuple[int, ...], user_id: int | None, visitor_id: uuid.UUID) -> dict[str, str]:
    """Each filled slot of the page as the HTML the page shows for it, and each content slot
    (content:<name>, empty ones included, so an offer that went away goes from the page too).
    Staff notes are left out: a push knows no request to tell staff by."""
    state = page_state(page=page, user_id=user_id, visitor_id=visitor_id, products=products)
    slot_page = {"page": page, "products": ",".join(str(pk) for pk in products)}
    rendered = {
        name: render_to_string(
            SLOT_TEMPLATE, {"block": block, "slot_page": slot_page, "currency": settings.SHOP_CURRENCY}
        )
        for name, block in state["slots"].items()
    }
    if state["page_shared"]:
        for name in content_slots(page):
            context = {**placement_context(state["page_shared"], name), "currency": settings.SHOP_CURRENCY}
            rendered[PREFIX + name] = render_to_string(CONTENT_TEMPLATE, context)
    return rendered
