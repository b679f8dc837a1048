"""What an event is about: the one rule for which products (or imported item codes) an event concerns.

Live profiles, training and the offline evaluation all read events through event_items, so
they agree on what a purchase of three lines or an imported row is about.
"""

from typing import NamedTuple

# Item ids are text in GA4 and may be any SKU; only those that can be a product's id (a bigint)
# are one: a longer run of digits would reach Redis as a float ("1e+23") no page could read.
MAX_PRODUCT_ID = 2**63 - 1


class EventItem(NamedTuple):
    """One thing an event concerns: a shop product id, or (imported events only) the source
    shop's own item code, which may look like a number but is never one of our products."""

    item: int | str
    quantity: int
    is_product: bool


def _quantity(value) -> int:
    # Validated at ingest (1 to 10,000); an old or imported row without one counts once.
    try:
        return max(int(value), 1)
    except (TypeError, ValueError):
        return 1


def event_items(*, product_id: int | None, properties: dict, imported: bool = False) -> list[EventItem]:
    """The event's product; else each entry of its items (a purchase, a checkout). An imported
    event's items name the source shop's codes: they come back as text, not as products."""
    if product_id:
        return [EventItem(product_id, _quantity(properties.get("quantity")), True)]
    if imported:
        codes = [(properties.get("item_id"), properties.get("quantity"))] if properties.get("item_id") else []
        codes = codes or [
            (entry.get("item_id"), entry.get("quantity"))
            for entry in properties.get("items") or []
            if isinstance(entry, dict)
        ]
        return [EventItem(str(code), _quantity(quantity), False) for code, quantity in codes if code]
    found = []
    for entry in properties.get("items") or []:
        if not isinstance(entry, dict):
            continue
        try:
            product = int(entry.get("item_id"))
        except (TypeError, ValueError):
            continue  # a tag's own item id that names no product of ours
        if 0 < product <= MAX_PRODUCT_ID:
            found.append(EventItem(product, _quantity(entry.get("quantity")), True))
    return found
