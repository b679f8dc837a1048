"""REES46 multi-category store: views, carts and purchases with prices, brands, categories and sessions."""

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from tracking.registry import EventName

from .base import (
    Chunk,
    csv_chunks,
    drop,
    drop_duplicate_rows,
    empty_events,
    event_ids,
    events_frame,
    plausible_times,
    row_keys,
    stable_uuids,
    text_values,
    with_optional,
)

DATASET = "rees46"
DEFAULT_PATH = "rees46_events/2019-Oct_head.csv"
HEADER = True
COLUMNS = [
    "event_time",
    "event_type",
    "product_id",
    "category_id",
    "category_code",
    "brand",
    "price",
    "user_id",
    "user_session",
]
EVENT_TYPES = {
    "view": EventName.VIEW_ITEM.value,
    "cart": EventName.ADD_TO_CART.value,
    "remove_from_cart": EventName.REMOVE_FROM_CART.value,
    "purchase": EventName.PURCHASE.value,
}
# Events that carry money get value = price (one unit per event in this data).
MONEY_EVENTS = {EventName.ADD_TO_CART.value, EventName.REMOVE_FROM_CART.value, EventName.PURCHASE.value}


def _missing(values: pd.Series) -> pd.Series:
    return values.isna() | (values.str.strip() == "")


def _events(frame: pd.DataFrame, *, dataset: str, skipped: Counter) -> pd.DataFrame:
    frame = drop(frame, _missing(frame["user_id"]), reason="missing_visitor", skipped=skipped)
    frame = drop(frame, _missing(frame["product_id"]), reason="missing_item", skipped=skipped)
    names = frame["event_type"].str.strip().map(EVENT_TYPES)
    frame = drop(frame, names.isna(), reason="unknown_event", skipped=skipped)
    times = pd.to_datetime(frame["event_time"], format="%Y-%m-%d %H:%M:%S UTC", utc=True, errors="coerce")
    frame = drop(frame, ~plausible_times(times), reason="bad_timestamp", skipped=skipped)
    frame = drop_duplicate_rows(frame, subset=COLUMNS, skipped=skipped)
    if frame.empty:
        return empty_events()
    names, times = names.loc[frame.index], times.loc[frame.index]
    user = frame["user_id"].str.strip()
    item = frame["product_id"].str.strip()
    session = frame["user_session"].str.strip()
    session = session.where(session != "", None)
    prices = pd.to_numeric(frame["price"], errors="coerce").round(2)
    prices = prices.where(prices >= 0)
    seconds = (times - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    keys = row_keys(frame, ["event_type", "event_time", "user_id", "product_id", "user_session"])
    properties = [{"item_id": value} for value in item.tolist()]
    with_optional(properties, "item_category", text_values(frame["category_code"]))
    with_optional(properties, "item_category_id", text_values(frame["category_id"], free_text=False))
    with_optional(properties, "item_brand", text_values(frame["brand"]))
    with_optional(properties, "price", prices.tolist())
    for props, name, user_id, second in zip(properties, names.tolist(), user.tolist(), seconds.tolist(), strict=True):
        if name in MONEY_EVENTS and "price" in props:
            props["value"] = props["price"]
            props["quantity"] = 1
        if name == EventName.PURCHASE:
            # No order ids in the data: one user's purchases in one second are one transaction.
            props["transaction_id"] = f"{user_id}-{second}"
    return events_frame(
        event_id=event_ids(keys, dataset=dataset),
        name=names,
        visitor_id=stable_uuids(user, dataset=dataset, kind="visitor"),
        session_id=stable_uuids(session, dataset=dataset, kind="session"),
        item=item,
        properties=properties,
        client_ts=times,
    )


def read(*, path: Path, limit: int | None, chunk_rows: int, dataset: str = DATASET) -> Iterator[Chunk]:
    """Each row one event; missing brand, category code or price stay absent rather than empty."""
    options = {"usecols": COLUMNS, "dtype": str, "keep_default_na": False, "na_values": [""]}
    for raw in csv_chunks(path, limit=limit, chunk_rows=chunk_rows, **options):
        skipped = Counter()
        yield Chunk(events=_events(raw, dataset=dataset, skipped=skipped), rows_read=len(raw), skipped=skipped)
