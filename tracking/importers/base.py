"""What every dataset reader shares: the chunk it yields, deterministic ids, CSV reading and row checks."""

import gzip
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from django.conf import settings

from tracking.validation import MAX_STRING, scrub

# Fixed for ever: every imported id is uuid5 under it, so an id never changes between runs.
NAMESPACE = uuid.UUID("6f1c2a4e-3b7d-5e90-8a41-d2c9b0e7f315")
# What a reader's events frame holds, one row per event: ids as 32 hex digits (what both Postgres
# and Django's SQLite columns take), item the external item id or None, client_ts UTC times.
EVENT_COLUMNS = ("event_id", "name", "visitor_id", "session_id", "item", "properties", "client_ts")
# Times outside these bounds are zeros and typos, not history (and each would get a month
# partition of its own).
EARLIEST = datetime(1995, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)


class ImportFailed(ValueError):
    """A file that cannot be read as the format it claims to be."""


@dataclass
class Chunk:
    """One slice of a file as events, with what was read and what was left out (reason -> rows)."""

    events: pd.DataFrame
    rows_read: int
    skipped: Counter = field(default_factory=Counter)


def datasets_dir() -> Path:
    """Where the shared datasets live: beside the project, never inside it."""
    return Path(settings.BASE_DIR).parent / "shared" / "datasets"


def stable_uuids(values: pd.Series, *, dataset: str, kind: str) -> pd.Series:
    """uuid5 (hex) of each value within the dataset, computed once per distinct value (visitors repeat a lot)."""
    distinct = values.dropna().unique()
    ids = {value: uuid.uuid5(NAMESPACE, f"{dataset}:{kind}:{value}").hex for value in distinct}
    return values.map(ids).astype(object).where(values.notna(), None)


def event_ids(keys: pd.Series, *, dataset: str) -> list[str]:
    """The event's id (hex) from its row identity: the same row imported twice gets the same id."""
    prefix = f"{dataset}:event:"
    return [uuid.uuid5(NAMESPACE, prefix + key).hex for key in keys.tolist()]


def csv_chunks(path: Path, *, limit: int | None, chunk_rows: int, **read_options) -> Iterator[pd.DataFrame]:
    """pandas' chunked reader, with read errors turned into ImportFailed."""
    try:
        reader = pd.read_csv(path, chunksize=chunk_rows, nrows=limit, **read_options)
        with reader:
            yield from reader
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ImportFailed(f"{path}: not a readable CSV of this format ({exc}).") from exc


def count_rows(path: Path, *, header: bool) -> int:
    """Data rows in a (possibly gzipped) CSV, for the progress bar; a pass over the bytes, no parsing."""
    opener = gzip.open if path.suffix == ".gz" else open
    lines = 0
    last = b"\n"
    with opener(path, "rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    lines += last != b"\n"
    return max(lines - header, 0)


def plausible_times(times: pd.Series) -> pd.Series:
    """True where a parsed time is a real moment of history (not missing, not 1970, not the future)."""
    latest = pd.Timestamp(datetime.now(UTC) + FUTURE_SLACK)
    return times.notna() & (times >= pd.Timestamp(EARLIEST)) & (times <= latest)


def drop(frame: pd.DataFrame, mask: pd.Series, *, reason: str, skipped: Counter) -> pd.DataFrame:
    """Rows where mask holds are left out and counted under reason."""
    count = int(mask.sum())
    if count:
        skipped[reason] += count
        return frame[~mask]
    return frame


def drop_duplicate_rows(frame: pd.DataFrame, *, subset: list[str], skipped: Counter) -> pd.DataFrame:
    """Exact duplicate rows are one event logged twice: keep the first."""
    return drop(frame, frame.duplicated(subset=subset), reason="duplicate_row", skipped=skipped)


def text_values(values: pd.Series, *, free_text: bool = True) -> pd.Series:
    """Text as stored: stripped and bounded, blank becomes missing; free text (a title, a brand) also gets
    emails and phone numbers masked, which ids must not (a seven-digit item id looks like a phone number)."""
    # NUL is dropped: Postgres cannot store it in text or JSON.
    stripped = values.astype("string").str.replace("\x00", "", regex=False).str.strip()
    stripped = stripped.where(stripped != "", pd.NA)
    distinct = stripped.dropna().unique()
    cleaned = {value: scrub(value[:MAX_STRING]) if free_text else value[:MAX_STRING] for value in distinct}
    return stripped.map(cleaned).astype(object).where(stripped.notna(), None)


def row_keys(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """One string per row joining the columns that identify it (missing values as empty)."""
    keys = frame[columns[0]].fillna("").astype(str)
    for column in columns[1:]:
        keys = keys + "|" + frame[column].fillna("").astype(str)
    return keys


def with_optional(properties: list[dict], key: str, values) -> None:
    """Adds key to each row's properties where the value is present (NaN and None stay absent)."""
    values = values.tolist() if isinstance(values, pd.Series) else values
    for props, value in zip(properties, values, strict=True):
        if value is not None and not (isinstance(value, float) and value != value):
            props[key] = value


def events_frame(**columns) -> pd.DataFrame:
    """The frame a reader yields, in EVENT_COLUMNS order; Series are taken by position, not by index."""
    values = {name: columns[name] for name in EVENT_COLUMNS}
    return pd.DataFrame(
        {
            name: value.reset_index(drop=True) if isinstance(value, pd.Series) else value
            for name, value in values.items()
        }
    )


def empty_events() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=object) for name in EVENT_COLUMNS})
