"""The documented generic CSV (docs/import_events.md): visitor, item, event, timestamp and optional details."""

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from tracking.registry import REGISTRY, EventName

from .base import (
    NAMESPACE,
    Chunk,
    ImportFailed,
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

DATASET = "csv"
DEFAULT_PATH = None
HEADER = True
REQUIRED = ["visitor", "item", "event", "timestamp"]
OPTIONAL = ["category", "brand", "price", "title", "session", "quantity", "rating", "split"]
# A dataset's own train/test split, for offline evaluation (EVALUATION.md: used when a dataset has one).
SPLITS = ("train", "test")
ALIASES = {
    "view": EventName.VIEW_ITEM.value,
    "cart": EventName.ADD_TO_CART.value,
    "purchase": EventName.PURCHASE.value,
    "wishlist": EventName.ADD_TO_WISHLIST.value,
}
# Properties a row can fill; an event that requires any other (search needs search_term) cannot come from here.
FILLABLE = {"transaction_id", "value"}
EVENT_NAMES = {
    **{name: name for name, spec in REGISTRY.items() if set(spec.required) <= FILLABLE},
    **ALIASES,
}
NEEDS_ITEM = {name for name, spec in REGISTRY.items() if spec.needs_product}


def _blank(values: pd.Series) -> pd.Series:
    return values.isna() | (values.str.strip() == "")


def _times(values: pd.Series) -> pd.Series:
    """Epoch seconds where the value is a number, else ISO 8601 (a time without offset is UTC)."""
    text = values.str.strip()
    seconds = pd.to_numeric(text, errors="coerce")
    epoch = pd.to_datetime(seconds, unit="s", utc=True, errors="coerce")
    iso = pd.to_datetime(text.where(seconds.isna()), format="ISO8601", utc=True, errors="coerce")
    return epoch.where(seconds.notna(), iso)


def _ids(values: pd.Series, *, dataset: str, kind: str) -> pd.Series:
    """A value that is already a UUID is kept (so rows can name the shop's own visitors); others get uuid5."""

    def as_uuid(value: str) -> str | None:
        try:
            return uuid.UUID(value).hex
        except ValueError:
            return None

    stripped = values.str.strip()
    stripped = stripped.where(stripped != "")
    derived = stable_uuids(stripped, dataset=dataset, kind=kind)
    given = stripped.map(as_uuid, na_action="ignore")
    return given.where(given.notna(), derived).astype(object).where(stripped.notna(), None)


def _events(frame: pd.DataFrame, *, dataset: str, skipped: Counter) -> pd.DataFrame:
    for column in OPTIONAL:
        if column not in frame:
            frame[column] = pd.Series(None, index=frame.index, dtype=str)
    names = frame["event"].str.strip().str.lower().map(EVENT_NAMES)
    frame = drop(frame, names.isna(), reason="unknown_event", skipped=skipped)
    frame = drop(frame, _blank(frame["visitor"]), reason="missing_visitor", skipped=skipped)
    needs_item = names.loc[frame.index].isin(NEEDS_ITEM)
    frame = drop(frame, needs_item & _blank(frame["item"]), reason="missing_item", skipped=skipped)
    times = _times(frame["timestamp"])
    frame = drop(frame, ~plausible_times(times), reason="bad_timestamp", skipped=skipped)
    prices = pd.to_numeric(frame["price"].str.strip(), errors="coerce")
    frame = drop(frame, ~_blank(frame["price"]) & ~(prices >= 0), reason="bad_price", skipped=skipped)
    quantities = pd.to_numeric(frame["quantity"].str.strip(), errors="coerce")
    whole = (quantities >= 1) & (quantities % 1 == 0)
    frame = drop(frame, ~_blank(frame["quantity"]) & ~whole, reason="bad_quantity", skipped=skipped)
    ratings = pd.to_numeric(frame["rating"].str.strip(), errors="coerce")
    frame = drop(frame, ~_blank(frame["rating"]) & ~(ratings >= 0), reason="bad_rating", skipped=skipped)
    splits = frame["split"].str.strip().str.lower()
    frame = drop(frame, ~_blank(frame["split"]) & ~splits.isin(SPLITS), reason="bad_split", skipped=skipped)
    names = names.loc[frame.index]
    frame = frame.assign(name=names)
    identity = ["visitor", "item", "name", "timestamp", "session", "price", "quantity"]
    frame = drop_duplicate_rows(frame, subset=identity, skipped=skipped)
    if frame.empty:
        return empty_events()
    names, times = names.loc[frame.index], times.loc[frame.index]
    prices = prices.loc[frame.index].round(2)
    quantities = quantities.loc[frame.index]
    ratings, splits = ratings.loc[frame.index], splits.loc[frame.index]
    visitors = _ids(frame["visitor"], dataset=dataset, kind="visitor")
    items = text_values(frame["item"], free_text=False)
    keys = row_keys(frame, identity)
    properties: list[dict] = [{} for _ in range(len(frame))]
    with_optional(properties, "item_id", items)
    with_optional(properties, "item_name", text_values(frame["title"]))
    with_optional(properties, "item_category", text_values(frame["category"]))
    with_optional(properties, "item_brand", text_values(frame["brand"]))
    with_optional(properties, "price", prices.tolist())
    with_optional(properties, "quantity", [None if q != q else int(q) for q in quantities.tolist()])
    with_optional(properties, "rating", ratings.tolist())
    with_optional(properties, "split", splits.where(splits.isin(SPLITS), None).tolist())
    for props, name, visitor, moment in zip(properties, names.tolist(), visitors.tolist(), times.tolist(), strict=True):
        if "price" in props:
            props["value"] = round(props["price"] * props.get("quantity", 1), 2)
        if name == EventName.PURCHASE:
            # A visitor's purchases at one moment are one transaction; the id is a hash, never the raw visitor.
            props["transaction_id"] = uuid.uuid5(NAMESPACE, f"{dataset}:transaction:{visitor}:{moment}").hex[:16]
    return events_frame(
        event_id=event_ids(keys, dataset=dataset),
        name=names,
        visitor_id=visitors,
        session_id=_ids(frame["session"], dataset=dataset, kind="session"),
        item=items,
        properties=properties,
        client_ts=times,
    )


def read(*, path: Path, limit: int | None, chunk_rows: int, dataset: str = DATASET) -> Iterator[Chunk]:
    """Rows of the generic CSV; other columns than the documented ones are ignored, never stored."""
    wanted = set(REQUIRED) | set(OPTIONAL)
    options = {
        "dtype": str,
        "keep_default_na": False,
        "na_values": [""],
        "usecols": lambda column: column.strip().lower() in wanted,
    }
    for raw in csv_chunks(path, limit=limit, chunk_rows=chunk_rows, **options):
        raw.columns = [column.strip().lower() for column in raw.columns]
        missing = [column for column in REQUIRED if column not in raw.columns]
        if missing:
            raise ImportFailed(f"{path}: the header lacks {', '.join(missing)} (see docs/import_events.md).")
        skipped = Counter()
        yield Chunk(events=_events(raw, dataset=dataset, skipped=skipped), rows_read=len(raw), skipped=skipped)
