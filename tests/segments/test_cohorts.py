"""Cohort matrices against counts worked by hand, and the command over the event record."""

import uuid
from datetime import UTC, datetime

import pandas as pd
import pytest
from django.core.management import call_command

from segments.cohorts import cohort_matrix
from tests.factories.tracking import EventFactory


def frame(rows):
    return pd.DataFrame(
        [(owner, pd.Timestamp(at, tz="UTC"), name) for owner, at, name in rows], columns=["owner", "at", "name"]
    )


EVENTS = frame(
    [
        ("a", "2025-01-03", "page_view"),
        ("a", "2025-02-10", "purchase"),
        ("b", "2025-01-20", "purchase"),
        ("c", "2025-01-25", "page_view"),
        ("c", "2025-03-01", "page_view"),
        ("d", "2025-02-02", "page_view"),
    ]
)


def test_monthly_retention_is_the_share_of_each_cohort_active_k_months_on():
    matrix = cohort_matrix(EVENTS, period="month")
    assert matrix["size"].to_dict() == {"2025-01": 3, "2025-02": 1}
    assert matrix.loc["2025-01", 0] == 1.0
    assert matrix.loc["2025-01", 1] == pytest.approx(1 / 3)
    assert matrix.loc["2025-01", 2] == pytest.approx(1 / 3)
    # d's cohort lived through March with nobody active: a zero, not a blank; April it has not reached.
    assert matrix.loc["2025-02", 1] == 0.0
    assert pd.isna(matrix.loc["2025-02", 2])


def test_conversion_is_cumulative_and_unknown_past_what_a_cohort_has_lived():
    matrix = cohort_matrix(EVENTS, period="month", metric="conversion")
    assert matrix.loc["2025-01", 0] == pytest.approx(1 / 3)  # b bought in its first month
    assert matrix.loc["2025-01", 1] == pytest.approx(2 / 3)  # a a month later
    assert matrix.loc["2025-02", 0] == 0.0
    assert pd.isna(matrix.loc["2025-02", 2])


def test_a_bad_period_is_refused():
    with pytest.raises(ValueError, match="period is one of month, week"):
        cohort_matrix(EVENTS, period="year")


@pytest.mark.django_db
def test_the_command_prints_the_record_as_csv(capsys):
    visitor = uuid.uuid4()
    for month in (1, 2):
        EventFactory(visitor_id=visitor, client_ts=datetime(2025, month, 5, tzinfo=UTC))
    EventFactory(client_ts=datetime(2025, 1, 9, tzinfo=UTC))
    call_command("cohorts", "--dataset", "record", "--period", "month", "--format", "csv")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "cohort,size,0,1"
    assert lines[1] == "2025-01,2,1.0000,0.5000"
