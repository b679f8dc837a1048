"""Datasets as the protocol's log: (user, item, ts, weight, target) rows from a file or from the event table."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from personalization.recommenders.base import EVENT_WEIGHTS
from tracking.items import event_items
from tracking.owners import owner_key
from tracking.registry import Source

# Files are parsed by the event importer's readers, so evaluation sees exactly the events an
# import would store (Online Retail: one purchase per invoice, customer and stock code).
FORMATS = ("online_retail", "taobao", "rees46", "csv")
USER_KEYS = ("visitor", "session")
DEFAULT_TARGETS = frozenset({"purchase"})
# Category property per format, for trending within a category (REES46's category_code is
# missing in a third of rows; its numeric category id never is).
CATEGORY_PROPERTY = {"taobao": "item_category", "rees46": "item_category_id", "csv": "item_category"}
# A dataset's documented time window: rows outside it are left out before the split. Taobao's
# file has 1,390 events outside 2017-11-25..12-03 (one from September): kept, they stretch
# [min ts, max ts] so far that the cut falls on 17 November with a single train row.
WINDOWS = {"taobao": (datetime(2017, 11, 25, tzinfo=UTC), datetime(2017, 12, 4, tzinfo=UTC))}
# Rows per chunk the importer's readers yield; the readers' own measured default.
READ_CHUNK_ROWS = 100_000
# Stored events fetched per round trip when evaluating on the event table.
EVENT_FETCH_ROWS = 5_000


class DatasetMissing(FileNotFoundError):
    """The dataset file is not where it was looked for."""


def dataset_path(name: str) -> Path | None:
    """The shared copy of a format's file (None for the generic CSV, which has no default)."""
    from tracking.importers import default_path

    return default_path(name)


def typed_ids(values: pd.Series) -> pd.Series:
    """Item ids as numbers when every one is a plain integer (REES46, Taobao, shop products), so
    the protocol's id tie-break orders 9 before 10; anything else ("85123A") stays text."""
    text = values.astype(str)
    if text.empty or not text.str.fullmatch(r"0|[1-9][0-9]{0,17}").all():
        return values.astype(str).astype(object)
    return text.astype(np.int64)


def _label_text(value: object) -> str | None:
    """A label as words: REES46's "electronics.audio.headphone" reads as three."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value.replace(".", " ").replace("_", " ").strip()


def item_columns(properties: pd.Series) -> pd.DataFrame:
    """What events say about their item and the row itself, as the log's optional columns.

    text: the item's name and its category label as words; brand; rating (explicit stars);
    split (the dataset's own train/test). A column no event fills is left out.
    """
    values = properties.tolist()
    names = [props.get("item_name") for props in values]
    labels = [_label_text(props.get("item_category")) for props in values]
    columns = {
        "text": [" ".join(filter(None, pair)) or None for pair in zip(names, labels, strict=True)],
        "brand": [props.get("item_brand") for props in values],
        "rating": [props.get("rating") for props in values],
        "split": [props.get("split") for props in values],
    }
    frame = pd.DataFrame({name: pd.Series(column, dtype=object) for name, column in columns.items()})
    frame = frame[[name for name in frame.columns if frame[name].notna().any()]]
    if "rating" in frame:
        frame["rating"] = pd.to_numeric(frame["rating"], errors="coerce")
    if "split" in frame:
        # Rows the dataset did not assign are train: only what it calls test is held out.
        frame["split"] = frame["split"].fillna("train")
    return frame


def log_from_events(
    events: pd.DataFrame, *, user_key: str, targets: Iterable[str] = DEFAULT_TARGETS, category: str | None = None
) -> pd.DataFrame:
    """An importer's events frame (name, visitor_id, session_id, item, properties, client_ts) as a log.

    Events without a behaviour weight (remove_from_cart, page views...) or without the user
    key are left out; so is anything without an item. Item text, brand, stars and the dataset's
    own split come along where the events carry them (item_columns).
    """
    if user_key not in USER_KEYS:
        raise ValueError(f"user_key must be one of {USER_KEYS}, not {user_key!r}")
    events = events[events["name"].isin(list(EVENT_WEIGHTS)) & events["item"].notna()]
    users = events["visitor_id"] if user_key == "visitor" else events["session_id"]
    events, users = events[users.notna()], users[users.notna()]
    target_names = set(targets)
    log = pd.DataFrame(
        {
            "user": users.astype(str).to_numpy(),
            "item": typed_ids(events["item"]).to_numpy(),
            "ts": (events["client_ts"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(),
            "weight": events["name"].map(EVENT_WEIGHTS).to_numpy(dtype=float),
            "target": events["name"].isin(target_names).to_numpy(),
        }
    )
    if category:
        log["category"] = pd.Series([props.get(category) for props in events["properties"]], dtype=object)
    return pd.concat([log, item_columns(events["properties"].reset_index(drop=True))], axis=1)


def dataset_log(
    *,
    name: str,
    path: Path | None = None,
    user_key: str = "visitor",
    targets: Iterable[str] = DEFAULT_TARGETS,
    limit: int | None = None,
) -> pd.DataFrame:
    """A dataset file read with the importer's reader for its format, as the protocol's log."""
    from tracking.importers import FORMATS as READERS

    if name not in FORMATS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(FORMATS)}")
    path = path or dataset_path(name)
    if path is None:
        raise DatasetMissing(f"the {name} format has no default file: give its path")
    if not Path(path).is_file():
        raise DatasetMissing(f"no {name} file at {path}")
    reader = READERS[name]
    frames = [
        chunk.events
        for chunk in reader.read(path=Path(path), limit=limit, chunk_rows=READ_CHUNK_ROWS, dataset=reader.DATASET)
        if not chunk.events.empty
    ]
    if not frames:
        raise ValueError(f"{path} holds no usable events")
    events = pd.concat(frames, ignore_index=True)
    if name in WINDOWS:
        start, end = WINDOWS[name]
        events = events[(events["client_ts"] >= start) & (events["client_ts"] < end)]
    log = log_from_events(events, user_key=user_key, targets=targets, category=CATEGORY_PROPERTY.get(name))
    if name == "online_retail":
        log["text"] = log["item"].map(online_retail_descriptions(Path(path), limit=limit))
    return log


def online_retail_descriptions(path: Path, *, limit: int | None) -> dict[str, str]:
    """Each stock code's latest description, read with the importer's one reader of the file (its
    events keep no description: the catalogue importer reads them the same way)."""
    from tracking.importers.online_retail import rows_read

    latest: dict[str, str] = {}
    for frame, _, _ in rows_read(path, limit=limit, chunk_rows=READ_CHUNK_ROWS, descriptions=True):
        described = frame[frame["Description"].notna()].sort_values("client_ts", kind="stable")
        latest.update(zip(described["code"].tolist(), described["Description"].str.strip().tolist(), strict=True))
    return latest


def events_log(*, user_key: str = "visitor", targets: Iterable[str] = DEFAULT_TARGETS) -> pd.DataFrame:
    """Every stored event with a behaviour weight, as a log.

    The user is the signed-in user when there is one, else the visitor (user_key="visitor"),
    or the session (user_key="session"). The importer stores no dataset marker, so this reads
    the whole table: evaluate a dataset this way in a database that holds only it.
    """
    from tracking.models import Event

    if user_key not in USER_KEYS:
        raise ValueError(f"user_key must be one of {USER_KEYS}, not {user_key!r}")
    rows = (
        Event.objects.filter(name__in=list(EVENT_WEIGHTS))
        .order_by()
        .values_list(
            "name",
            "visitor_id",
            "user_id",
            "session_id",
            "product_id",
            "category_id",
            "properties",
            "occurred_at",
            "source",
        )
    )
    records = []
    for name, visitor, user, session, product, category, properties, occurred, source in rows.iterator(
        chunk_size=EVENT_FETCH_ROWS
    ):
        if user_key == "session":
            who = f"s:{session}" if session else None
        else:
            who = owner_key(user_id=user, visitor_id=visitor)
        if who is None:
            continue
        found = event_items(product_id=product, properties=properties or {}, imported=source == Source.IMPORT)
        for item in found:
            records.append(
                (who, str(item.item), occurred.timestamp(), EVENT_WEIGHTS[name], name, category, properties or {})
            )
    frame = pd.DataFrame(records, columns=["user", "item", "ts", "weight", "name", "category", "properties"])
    frame["item"] = typed_ids(frame["item"])
    frame["category"] = frame["category"].astype(object)
    frame["target"] = frame["name"].isin(set(targets))
    extra = item_columns(frame["properties"])
    frame = pd.concat([frame.drop(columns=["name", "properties"]), extra], axis=1)
    return _with_catalog_text(frame)


def _with_catalog_text(log: pd.DataFrame) -> pd.DataFrame:
    """Items that are shop products read the catalogue's words (title, description, brand,
    category, attributes) before what their events said about them."""
    from personalization.training import product_features
    from shop.catalog.models import Product

    if log.empty or log["item"].dtype.kind != "i":
        return log
    products = np.array(
        sorted(Product.objects.filter(pk__in=log["item"].unique().tolist()).values_list("pk", flat=True)),
        dtype=np.int64,
    )
    if not len(products):
        return log
    text = dict(zip(products.tolist(), product_features(products)["text"].tolist(), strict=True))
    from_catalog = log["item"].map(text)
    if "text" in log:
        from_catalog = from_catalog.where(from_catalog.notna(), log["text"])
    return log.assign(text=from_catalog.astype(object))
