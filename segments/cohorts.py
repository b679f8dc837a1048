"""Acquisition cohorts: retention and conversion matrices computed with pandas over any event source.

A cohort is everyone whose first event fell in one week or month, or (by source or campaign)
everyone whose first visit came with that utm_source or utm_campaign. Cell (cohort, k) of the
retention matrix is the share of the cohort active in the k-th period after their own first;
of the conversion matrix, the share who had purchased by the end of it. Either share counts
only the members who have lived k periods by the end of the record: a cell none has reached
is unknown (blank), never a zero.
"""

from collections.abc import Iterator

import pandas as pd
from django.db.models import Case, When
from django.db.models.fields.json import KT

from tracking.importers import FORMATS, default_path
from tracking.models import Event
from tracking.owners import owner_key_expression
from tracking.registry import EventName, Source

from .evaluator import utm_value

PERIODS = {"month": "M", "week": "W"}
METRICS = ("retention", "conversion")
# What a cohort is: the period of the first activity, or the campaign parameter of the first visit.
GROUPS = {"first": None, "source": "utm_source", "campaign": "utm_campaign"}
NO_CAMPAIGN = "(none)"
RECORD = "record"  # the shop's own event store, rather than a dataset file
CHUNK_ROWS = 200_000


def _dataset_events(dataset: str) -> Iterator[pd.DataFrame]:
    """(owner, at, name, page) frames: a dataset file read by tracking's importer (its own
    cleaning rules), or the event record (page: a page view's address, for its campaign)."""
    columns = ["owner", "at", "name", "page"]
    if dataset == RECORD:
        # Imported datasets are other shops' customers: the record's cohorts are this shop's.
        shoppers = Event.objects.exclude(source=Source.IMPORT).annotate(
            owner=owner_key_expression(),
            page=Case(When(name=EventName.PAGE_VIEW, then=KT("properties__page_location")), default=None),
        )
        rows = shoppers.values_list("owner", "occurred_at", "name", "page")
        batch = []
        for row in rows.iterator(chunk_size=CHUNK_ROWS):
            batch.append(row)
            if len(batch) >= CHUNK_ROWS:
                yield pd.DataFrame(batch, columns=columns)
                batch = []
        if batch:
            yield pd.DataFrame(batch, columns=columns)
        return
    reader = FORMATS[dataset]
    for chunk in reader.read(path=default_path(dataset), limit=None, chunk_rows=CHUNK_ROWS):
        frame = chunk.events
        yield pd.DataFrame(
            {"owner": frame["visitor_id"], "at": frame["client_ts"], "name": frame["name"], "page": None}
        )


def cohort_events(*, dataset: str) -> pd.DataFrame:
    frames = list(_dataset_events(dataset))
    if not frames:
        return pd.DataFrame(columns=["owner", "at", "name", "page"])
    events = pd.concat(frames, ignore_index=True)
    events["at"] = pd.to_datetime(events["at"], utc=True)
    return events


def _first_campaign(events: pd.DataFrame, field: str) -> pd.Series:
    """Owner -> the campaign parameter of their first page view, NO_CAMPAIGN when it had none."""
    pages = events[events["name"] == EventName.PAGE_VIEW] if "page" in events else events.iloc[0:0]
    first = pages.sort_values("at").drop_duplicates("owner").set_index("owner")["page"]
    labels = first.map(lambda page: utm_value(page, field) or NO_CAMPAIGN)
    return labels.reindex(events["owner"].unique()).fillna(NO_CAMPAIGN)


def cohort_matrix(events: pd.DataFrame, *, period: str, metric: str = "retention", by: str = "first") -> pd.DataFrame:
    """Rows: cohorts (their first period, or their first visit's source or campaign, largest
    first) with their size; columns 0..n: periods since each member's first."""
    if period not in PERIODS or metric not in METRICS or by not in GROUPS:
        raise ValueError(
            f"period is one of {', '.join(PERIODS)}; metric one of {', '.join(METRICS)}; by one of {', '.join(GROUPS)}"
        )
    if events.empty:
        return pd.DataFrame()
    when = events["at"].dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period(PERIODS[period])
    ordinal = pd.PeriodIndex(when).asi8
    frame = pd.DataFrame({"owner": events["owner"].to_numpy(), "ordinal": ordinal, "name": events["name"].to_numpy()})
    start = frame.groupby("owner")["ordinal"].min()
    frame["since"] = frame["ordinal"] - frame["owner"].map(start).to_numpy()
    # How many periods after their first each owner has lived by the end of the record.
    lived = int(frame["ordinal"].max()) - start
    if by == "first":
        cohort = when.groupby(events["owner"].to_numpy()).min().astype(str).reindex(start.index)
    else:
        cohort = _first_campaign(events, GROUPS[by]).reindex(start.index)
    sizes = cohort.value_counts().sort_index()
    if by != "first":
        # The largest first, ties by name.
        order = sorted(sizes.index, key=lambda label: (-sizes[label], label))
        sizes = sizes.reindex(order)
    horizon = int(frame["since"].max())
    columns = range(horizon + 1)
    # Members of each cohort who have lived at least k periods: the denominator of column k.
    reached = pd.DataFrame({"cohort": cohort, "lived": lived}).groupby(["cohort", "lived"]).size().unstack("lived")
    reached = reached.reindex(columns=columns).fillna(0).iloc[:, ::-1].cumsum(axis=1).iloc[:, ::-1]
    if metric == "retention":
        active = frame.drop_duplicates(["owner", "since"])
        counts = active.groupby([active["owner"].map(cohort), "since"]).size().unstack("since")
    else:
        bought = frame[frame["name"] == EventName.PURCHASE].groupby("owner")["since"].min()
        counts = _converted_of_reached(bought, cohort, lived, columns)
    counts = counts.reindex(index=sizes.index, columns=columns).fillna(0)
    reached = reached.reindex(index=sizes.index, columns=columns).fillna(0)
    matrix = (counts / reached).where(reached > 0)
    matrix.insert(0, "size", sizes)
    matrix.index.name = "cohort"
    return matrix


def _converted_of_reached(bought: pd.Series, cohort: pd.Series, lived: pd.Series, columns: range) -> pd.DataFrame:
    """Per cohort and k: owners who had bought by k, of those who have lived k periods (within a
    source their first periods differ, so some have not reached k yet)."""
    first = bought.reindex(cohort.index)
    rows = {}
    for k in columns:
        inside = (lived >= k) & (first <= k)
        rows[k] = inside.groupby(cohort).sum()
    return pd.DataFrame(rows)


def cohort_csv(matrix: pd.DataFrame) -> str:
    """The matrix as CSV, shares to four places and unknown cells empty: the command's and the admin's export."""
    return matrix.to_csv(float_format="%.4f")
