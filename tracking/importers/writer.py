"""Writes imported events once: COPY into a staging table then one INSERT on Postgres, batched INSERTs on SQLite."""

import json
from datetime import datetime

import pandas as pd
from django.db import connection, transaction

from tracking.models import Event
from tracking.registry import Source

STAGING = "event_import_staging"
STAGED_COLUMNS = (
    "event_id",
    "name",
    "visitor_id",
    "session_id",
    "product_id",
    "category_id",
    "properties",
    "client_ts",
)
# An import fills no user (the data's people never logged in here), and occurred_at = client_ts:
# the source's clock is the only one there is, so there is no skew to correct.
INSERT_COLUMNS = (*STAGED_COLUMNS, "source", "user_id", "occurred_at", "received_at")
# Executemany rows per statement on the embedded SQLite: the full Online Retail file took
# 11.3-11.9 s at 1,000, 5,000 and 20,000 alike (two runs each); 5,000 bounds one call's parameters.
SQLITE_BATCH = 5_000
NULL = "\\N"
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _ids(values: pd.Series) -> list[str]:
    return [NULL if value is None or value != value else str(int(value)) for value in values.tolist()]


def _copy_text(frame: pd.DataFrame) -> str:
    """The frame as COPY text: tab-separated, \\N for NULL, backslashes doubled (JSON escapes every
    other character COPY treats specially, tabs and newlines included)."""
    times = frame["client_ts"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    columns = [
        frame["event_id"].tolist(),
        frame["name"].tolist(),
        frame["visitor_id"].tolist(),
        [value or NULL for value in frame["session_id"].tolist()],
        _ids(frame["product_id"]),
        _ids(frame["category_id"]),
        [_encode(props).replace("\\", "\\\\") for props in frame["properties"].tolist()],
        [f"{moment}+00" for moment in times.astype(str)],
    ]
    return "".join("\t".join(row) + "\n" for row in zip(*columns, strict=True))


def _write_postgres(frame: pd.DataFrame, *, received_at: datetime) -> int:
    text = _copy_text(frame)
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGING} ("
            "event_id uuid, name varchar(32), visitor_id uuid, session_id uuid, product_id bigint, "
            "category_id bigint, properties jsonb, client_ts timestamptz) ON COMMIT DROP"
        )
        # Dropped at commit; emptied anyway for a caller whose outer transaction (a test) never commits.
        cursor.execute(f"TRUNCATE {STAGING}")
        with cursor.copy(f"COPY {STAGING} ({', '.join(STAGED_COLUMNS)}) FROM STDIN") as copy:
            copy.write(text)
        cursor.execute(
            f"INSERT INTO {Event._meta.db_table} ({', '.join(INSERT_COLUMNS)}) "  # noqa: S608
            f"SELECT {', '.join(STAGED_COLUMNS)}, %s, NULL, client_ts, %s FROM {STAGING} "
            "ON CONFLICT (event_id, client_ts) DO NOTHING",
            [Source.IMPORT.value, received_at],
        )
        return cursor.rowcount


def _write_sqlite(frame: pd.DataFrame, *, received_at: datetime) -> int:
    # Django's own text form of a time on SQLite, so a rerun's times compare equal to the stored ones.
    adapt = connection.ops.adapt_datetimefield_value
    received = adapt(received_at)
    times = [adapt(moment) for moment in frame["client_ts"].dt.to_pydatetime()]
    products = [None if value is None or value != value else int(value) for value in frame["product_id"].tolist()]
    categories = [None if value is None or value != value else int(value) for value in frame["category_id"].tolist()]
    rows = list(
        zip(
            frame["event_id"].tolist(),
            frame["name"].tolist(),
            frame["visitor_id"].tolist(),
            frame["session_id"].tolist(),
            products,
            categories,
            [_encode(props) for props in frame["properties"].tolist()],
            times,
            [Source.IMPORT.value] * len(frame),
            [None] * len(frame),
            times,
            [received] * len(frame),
            strict=True,
        )
    )
    sql = (
        f"INSERT INTO {Event._meta.db_table} ({', '.join(INSERT_COLUMNS)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(INSERT_COLUMNS))}) ON CONFLICT (event_id, client_ts) DO NOTHING"
    )
    written = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), SQLITE_BATCH):
            cursor.executemany(sql, rows[start : start + SQLITE_BATCH])
            written += cursor.rowcount
    return written


def events_write(*, events: pd.DataFrame, received_at: datetime) -> int:
    """Store the events not stored yet, in one transaction; returns how many were new.

    events has the readers' columns plus product_id and category_id.
    """
    if events.empty:
        return 0
    with transaction.atomic():
        if connection.vendor == "postgresql":
            return _write_postgres(events, received_at=received_at)
        return _write_sqlite(events, received_at=received_at)
