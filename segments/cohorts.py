"""Acquisition cohorts: retention and conversion matrices computed with pandas over any event source.

A cohort is everyone whose first event fell in one week or month. Cell (cohort, k) of the
retention matrix is the share of the cohort active in the k-th period after their first; of
the conversion matrix, the share who had purchased by the end of it.
"""

from collections.abc import Iterator

import pandas as pd

from tracking.importers import FORMATS, default_path
from tracking.models import Event
from tracking.owners import owner_key_expression
from tracking.registry import EventName, Source

PERIODS = {"month": "M", "week": "W"}
METRICS = ("retention", "conversion")
RECORD = "record"  # the shop's own event store, rather than a dataset file
CHUNK_ROWS = 200_000


def _dataset_events(dataset: str) -> Iterator[pd.DataFrame]:
    """(owner, at, name) frames: a dataset file read by tracking's importer (its own cleaning
    rules), or the event record."""
    if dataset == RECORD:
        # Imported datasets are other shops' customers: the record's cohorts are this shop's.
        shoppers = Event.objects.exclude(source=Source.IMPORT)
        rows = shoppers.annotate(owner=owner_key_expression()).values_list("owner", "occurred_at", "name")
        batch = []
        for row in rows.iterator(chunk_size=CHUNK_ROWS):
            batch.append(row)
            if len(batch) >= CHUNK_ROWS:
                yield pd.DataFrame(batch, columns=["owner", "at", "name"])
                batch = []
        if batch:
            yield pd.DataFrame(batch, columns=["owner", "at", "name"])
        return
    reader = FORMATS[dataset]
    for chunk in reader.read(path=default_path(dataset), limit=None, chunk_rows=CHUNK_ROWS):
        frame = chunk.events
        yield pd.DataFrame({"owner": frame["visitor_id"], "at": frame["client_ts"], "name": frame["name"]})


def cohort_events(*, dataset: str) -> pd.DataFrame:
    frames = list(_dataset_events(dataset))
    if not frames:
        return pd.DataFrame(columns=["owner", "at", "name"])
    events = pd.concat(frames, ignore_index=True)
    events["at"] = pd.to_datetime(events["at"], utc=True)
    return events


def cohort_matrix(events: pd.DataFrame, *, period: str, metric: str = "retention") -> pd.DataFrame:
    """Rows: cohorts (their first period) with their size; columns 0..n: periods since."""
    if period not in PERIODS or metric not in METRICS:
        raise ValueError(f"period is one of {', '.join(PERIODS)}; metric one of {', '.join(METRICS)}")
    if events.empty:
        return pd.DataFrame()
    when = events["at"].dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period(PERIODS[period])
    frame = pd.DataFrame({"owner": events["owner"].to_numpy(), "period": when, "name": events["name"].to_numpy()})
    first = frame.groupby("owner")["period"].min().rename("cohort")
    frame = frame.join(first, on="owner")
    frame["since"] = (frame["period"] - frame["cohort"]).apply(lambda offset: offset.n)
    sizes = first.value_counts().sort_index()
    horizon = int(frame["since"].max())
    if metric == "retention":
        active = frame.drop_duplicates(["owner", "since"]).groupby(["cohort", "since"])["owner"].count()
        matrix = active.unstack("since").reindex(columns=range(horizon + 1)).reindex(sizes.index).fillna(0)
    else:
        bought = frame[frame["name"] == EventName.PURCHASE].groupby("owner")["since"].min()
        converted = pd.DataFrame({"cohort": first.loc[bought.index], "since": bought.to_numpy()})
        counts = converted.groupby(["cohort", "since"])["since"].count().unstack("since")
        matrix = counts.reindex(columns=range(horizon + 1)).fillna(0).cumsum(axis=1).reindex(sizes.index).fillna(0)
    # A period a cohort lived through with nobody active is a zero; one it has not reached yet is unknown.
    last = frame["period"].max()
    for cohort in matrix.index:
        matrix.loc[cohort, [k for k in matrix.columns if k > (last - cohort).n]] = float("nan")
    matrix = matrix.div(sizes, axis=0)
    matrix.insert(0, "size", sizes)
    matrix.index = matrix.index.astype(str)
    matrix.index.name = "cohort"
    return matrix
