"""Alibaba/Tianchi UserBehavior (Taobao): views, carts, wishlists and buys of anonymised users."""

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
)

DATASET = "taobao"
DEFAULT_PATH = "taobao_user_behavior/users_full_history.csv"
HEADER = False
COLUMNS = ["user_id", "item_id", "category_id", "behavior_type", "timestamp"]
BEHAVIOURS = {
    "pv": EventName.VIEW_ITEM.value,
    "cart": EventName.ADD_TO_CART.value,
    "fav": EventName.ADD_TO_WISHLIST.value,
    "buy": EventName.PURCHASE.value,
}


def _events(frame: pd.DataFrame, *, dataset: str, skipped: Counter) -> pd.DataFrame:
    for column in COLUMNS:
        frame[column] = frame[column].str.strip()
    frame = drop(frame, frame["user_id"].isna() | (frame["user_id"] == ""), reason="missing_visitor", skipped=skipped)
    frame = drop(frame, frame["item_id"].isna() | (frame["item_id"] == ""), reason="missing_item", skipped=skipped)
    names = frame["behavior_type"].map(BEHAVIOURS)
    frame = drop(frame, names.isna(), reason="unknown_event", skipped=skipped)
    seconds = pd.to_numeric(frame["timestamp"], errors="coerce")
    times = pd.to_datetime(seconds, unit="s", utc=True, errors="coerce")
    frame = drop(frame, ~plausible_times(times), reason="bad_timestamp", skipped=skipped)
    frame = drop_duplicate_rows(frame, subset=COLUMNS, skipped=skipped)
    if frame.empty:
        return empty_events()
    names = names.loc[frame.index]
    keys = row_keys(frame, COLUMNS)
    properties = []
    for name, user, item, category, stamp in zip(
        *(
            column.tolist()
            for column in (names, frame["user_id"], frame["item_id"], frame["category_id"], frame["timestamp"])
        ),
        strict=True,
    ):
        props = {"item_id": item}
        if isinstance(category, str) and category:
            props["item_category"] = category
        if name == EventName.PURCHASE:
            # No order ids in the data: one user's buys in one second are one transaction. No
            # prices either, so value is left out rather than stored as a made-up zero.
            props["transaction_id"] = f"{user}-{stamp}"
        properties.append(props)
    return events_frame(
        event_id=event_ids(keys, dataset=dataset),
        name=names,
        visitor_id=stable_uuids(frame["user_id"], dataset=dataset, kind="visitor"),
        session_id=None,
        item=frame["item_id"],
        properties=properties,
        client_ts=times.loc[frame.index],
    )


def read(*, path: Path, limit: int | None, chunk_rows: int, dataset: str = DATASET) -> Iterator[Chunk]:
    """Each row one event; exact duplicate rows are stored once."""
    options = {"header": None, "names": COLUMNS, "dtype": str, "keep_default_na": False, "na_values": [""]}
    for raw in csv_chunks(path, limit=limit, chunk_rows=chunk_rows, **options):
        skipped = Counter()
        yield Chunk(events=_events(raw, dataset=dataset, skipped=skipped), rows_read=len(raw), skipped=skipped)
