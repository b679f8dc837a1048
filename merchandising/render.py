"""What a content slot shows, as its template reads it: for the page's tag and for the live channel's pushes."""

from shop.catalog.selectors import products_for_cards

from .stages import DECISION, content_slots

CONTENT_TEMPLATE = "merchandising/partials/content_slot.html"
# How a content slot is named where it swaps with recommendation slots (data-slot-block).
PREFIX = "content:"

__all__ = ["CONTENT_TEMPLATE", "PREFIX", "content_slots", "placement_context"]


def placement_context(page_shared: dict, name: str) -> dict:
    """The placement a rule or block made in this slot (None for none), the product a timer was
    about, and a product list's products: one query for both."""
    decision = (page_shared or {}).get(DECISION)
    placement = decision.placements.get(name) if decision is not None else None
    products, subject = [], None
    if placement is not None:
        listed = placement.block.products if placement.block else ()
        wanted = {*listed, *([placement.subject_product] if placement.subject_product else [])}
        found = products_for_cards(ids=wanted) if wanted else {}
        subject = found.get(placement.subject_product)
        products = [found[pid] for pid in listed if pid in found]
    return {"placement": placement, "slot_name": name, "subject": subject, "block_products": products}
