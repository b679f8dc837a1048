"""UCI Online Retail: the one reader of the file (rows_read), and one purchase event per
(invoice, customer, stock code) from it; the catalogue importer builds products from the same rows."""

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
    stable_uuids,
)

DATASET = "online_retail"
DEFAULT_PATH = "online_retail/online_retail.csv.gz"
HEADER = True
CURRENCY = "GBP"
# Country is never read, nor Description for events: nothing about a shopper but an id is kept.
USE_COLUMNS = ["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"]
DTYPES = {"InvoiceNo": str, "StockCode": str, "CustomerID": str, "InvoiceDate": str, "Description": str}
LINE = ["InvoiceNo", "customer", "code"]


def rows_read(
    path: Path, *, limit: int | None, chunk_rows: int, descriptions: bool = False
) -> Iterator[tuple[pd.DataFrame, int, Counter]]:
    """The file's sales lines, cleaned the one way both importers use: (rows, raw rows read, skipped).

    Each frame holds InvoiceNo, CustomerID (None when the file has none), Description when
    asked for, and code (StockCode stripped), quantity, price and client_ts (parsed, UTC).
    Left out and counted: lines missing an invoice or code, cancellations (invoice C...),
    lines of no positive quantity, negative prices, impossible times and exact duplicates.
    The rows of one invoice are contiguous in the file, so the last invoice of a chunk is
    held back and read with the next: an invoice always comes whole.
    """
    columns = [*USE_COLUMNS, "Description"] if descriptions else USE_COLUMNS
    held = pd.DataFrame()
    for raw in csv_chunks(path, limit=limit, chunk_rows=chunk_rows, usecols=columns, dtype=DTYPES):
        if raw.empty:
            continue  # a file of a header alone: nothing to read, and no last invoice to hold
        frame = pd.concat([held, raw], ignore_index=True) if len(held) else raw
        last = frame["InvoiceNo"].iloc[-1]
        tail = frame["InvoiceNo"] == last
        held, frame = frame[tail], frame[~tail]
        skipped = Counter()
        yield _clean(frame, columns=columns, skipped=skipped), len(raw), skipped
    if len(held):
        skipped = Counter()
        yield _clean(held, columns=columns, skipped=skipped), 0, skipped


def _clean(frame: pd.DataFrame, *, columns: list[str], skipped: Counter) -> pd.DataFrame:
    frame = drop(frame, frame["InvoiceNo"].isna() | frame["StockCode"].isna(), reason="missing_field", skipped=skipped)
    frame = drop(frame, frame["InvoiceNo"].str.startswith("C"), reason="cancelled", skipped=skipped)
    quantity = pd.to_numeric(frame["Quantity"], errors="coerce")
    frame = drop(frame, ~(quantity > 0), reason="non_positive_quantity", skipped=skipped)
    price = pd.to_numeric(frame["UnitPrice"], errors="coerce")
    frame = drop(frame, price.isna() | (price < 0), reason="bad_price", skipped=skipped)
    # The file's times are the shop's UK wall clock; taken as UTC, which is within an hour of it.
    times = pd.to_datetime(frame["InvoiceDate"], format="ISO8601", errors="coerce").dt.tz_localize("UTC")
    frame = drop(frame, ~plausible_times(times), reason="bad_timestamp", skipped=skipped)
    frame = drop_duplicate_rows(frame, subset=columns, skipped=skipped)
    return frame.assign(
        code=frame["StockCode"].str.strip(),
        quantity=quantity.loc[frame.index].astype("int64"),
        price=price.loc[frame.index],
        client_ts=times.loc[frame.index],
    )


def _events(frame: pd.DataFrame, *, dataset: str, skipped: Counter) -> pd.DataFrame:
    frame = drop(frame, frame["CustomerID"].isna(), reason="no_customer", skipped=skipped)
    if frame.empty:
        return empty_events()
    # CustomerID is written as a float ("17850.0"); the id is the integer.
    frame = frame.assign(customer=frame["CustomerID"].str.strip().str.removesuffix(".0"))
    frame["value"] = frame["quantity"] * frame["price"]
    # Non-identical rows of one item in one invoice (an item scanned twice) are one purchase of the sum.
    lines = frame.groupby(LINE, sort=False).agg(
        rows=("quantity", "size"),
        quantity=("quantity", "sum"),
        value=("value", "sum"),
        price=("price", "first"),
        client_ts=("client_ts", "min"),
    )
    merged = int((lines["rows"] - 1).sum())
    if merged:
        skipped["same_line"] += merged
    lines = lines.reset_index()
    keys = lines["InvoiceNo"] + "|" + lines["customer"] + "|" + lines["code"]
    properties = [
        {
            "transaction_id": invoice,
            "value": round(value, 2),
            "currency": CURRENCY,
            "item_id": code,
            "quantity": quantity,
            "items": [{"item_id": code, "quantity": quantity, "price": price}],
        }
        for invoice, code, quantity, price, value in zip(
            lines["InvoiceNo"].tolist(),
            lines["code"].tolist(),
            lines["quantity"].tolist(),
            lines["price"].tolist(),
            lines["value"].tolist(),
            strict=True,
        )
    ]
    return events_frame(
        event_id=event_ids(keys, dataset=dataset),
        name=EventName.PURCHASE.value,
        visitor_id=stable_uuids(lines["customer"], dataset=dataset, kind="visitor"),
        session_id=None,
        item=lines["code"],
        properties=properties,
        client_ts=lines["client_ts"],
    )


def read(*, path: Path, limit: int | None, chunk_rows: int, dataset: str = DATASET) -> Iterator[Chunk]:
    """Purchases of known customers, cancellations, returns and exact duplicates left out."""
    for frame, read_count, skipped in rows_read(path, limit=limit, chunk_rows=chunk_rows):
        yield Chunk(events=_events(frame, dataset=dataset, skipped=skipped), rows_read=read_count, skipped=skipped)
