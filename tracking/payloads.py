"""Event payloads built one way: the raw event a tracker sends, and GA4 commerce properties.

The storefront's server events, the shopper simulator and the benchmarks all build through
here, so what they send is what the registry validates (tracking/registry.py).
"""

import time
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any


def raw_event(
    name: str,
    *,
    ts_ms: int | None = None,
    event_id: uuid.UUID | str | None = None,
    product_id: int | None = None,
    category_id: int | None = None,
    props: dict | None = None,
) -> dict[str, Any]:
    """One event as a browser's tracker sends it in a batch (epoch milliseconds, a random UUID)."""
    event: dict[str, Any] = {
        "event_id": str(event_id or uuid.uuid4()),
        "name": name,
        "ts": ts_ms if ts_ms is not None else int(time.time() * 1000),
    }
    if product_id is not None:
        event["product_id"] = product_id
    if category_id is not None:
        event["category_id"] = category_id
    event["props"] = props or {}
    return event


def derived_event_id(namespace: uuid.UUID, name: str) -> uuid.UUID:
    """A deterministic id (the same name gives the same id, so a second recording is a duplicate)
    in the random version-4 form the ingest and the identity cookies accept."""
    return uuid.UUID(bytes=uuid.uuid5(namespace, name).bytes, version=4)


def money(value: Decimal | float) -> float:
    """A price or total as JSON carries it: a float of whole pence."""
    return float(Decimal(str(value)).quantize(Decimal("0.01")))


def ga4_item(
    *,
    item_id: int | str,
    name: str,
    price: Decimal | float,
    quantity: int | None = None,
    category: str | None = None,
    brand: str | None = None,
    index: int | None = None,
) -> dict[str, Any]:
    """One entry of a GA4 items array."""
    item: dict[str, Any] = {"item_id": str(item_id), "item_name": name[:200], "price": money(price)}
    optional = {"item_category": category, "item_brand": brand, "index": index, "quantity": quantity}
    item.update({key: value for key, value in optional.items() if value is not None})
    return item


def commerce_props(
    *,
    currency: str,
    items: Iterable[dict],
    value: Decimal | float | None = None,
    transaction_id: str | None = None,
    quantity: int | None = None,
) -> dict[str, Any]:
    """The properties of a GA4 commerce event (view_item, add_to_cart, begin_checkout, purchase...).

    value defaults to the items' price times quantity (one when unsaid)."""
    items = list(items)
    if value is None:
        value = sum(Decimal(str(item["price"])) * item.get("quantity", 1) for item in items)
    props: dict[str, Any] = {"currency": currency, "value": money(value), "items": items}
    if transaction_id is not None:
        props["transaction_id"] = transaction_id
    if quantity is not None:
        props["quantity"] = quantity
    return props
