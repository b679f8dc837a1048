"""Cohort matrices against counts worked by hand, and the command over the event record."""

import uuid
from datetime import UTC, datetime

import pandas as pd
import pytest
from django.core.management import call_command

from segments.cohorts import cohort_csv, cohort_events, cohort_matrix
from tests.factories.accounts import UserFactory
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


SOURCED = pd.DataFrame(
    [
        ("a", pd.Timestamp("2025-01-03", tz="UTC"), "page_view", "/?utm_source=newsletter&utm_campaign=jan"),
        ("a", pd.Timestamp("2025-02-10", tz="UTC"), "purchase", None),
        ("b", pd.Timestamp("2025-02-20", tz="UTC"), "page_view", "/?utm_source=newsletter"),
        ("b", pd.Timestamp("2025-02-21", tz="UTC"), "page_view", "/c/teapots/?utm_source=google"),
        ("c", pd.Timestamp("2025-01-25", tz="UTC"), "page_view", "/"),
        ("c", pd.Timestamp("2025-03-01", tz="UTC"), "page_view", "/?utm_source=newsletter"),
    ],
    columns=["owner", "at", "name", "page"],
)


def test_by_source_a_cohort_is_the_first_visits_source_and_each_member_counts_from_their_own_first():
    matrix = cohort_matrix(SOURCED, period="month", by="source")
    # a and b came first from the newsletter (b's later google visit does not count); c came direct.
    assert matrix["size"].to_dict() == {"newsletter": 2, "(none)": 1}
    assert matrix.loc["newsletter", 0] == 1.0
    # Month 1: a (January) was active in February; b (February) has lived one month by March.
    assert matrix.loc["newsletter", 1] == pytest.approx(1 / 2)
    # Month 2: only a has lived two months by March, and was not active then.
    assert matrix.loc["newsletter", 2] == 0.0
    assert matrix.loc["(none)", 2] == 1.0
    conversion = cohort_matrix(SOURCED, period="month", metric="conversion", by="campaign")
    assert conversion["size"].to_dict() == {"(none)": 2, "jan": 1}
    assert conversion.loc["jan", 1] == 1.0
    assert conversion.loc["(none)", 1] == 0.0


@pytest.mark.django_db
def test_the_command_prints_cohorts_by_source(capsys):
    visitor = uuid.uuid4()
    EventFactory(
        visitor_id=visitor,
        name="page_view",
        properties={"page_location": "/?utm_source=newsletter"},
        client_ts=datetime(2025, 1, 5, tzinfo=UTC),
    )
    EventFactory(visitor_id=visitor, name="page_view", client_ts=datetime(2025, 2, 5, tzinfo=UTC))
    EventFactory(name="page_view", client_ts=datetime(2025, 1, 9, tzinfo=UTC))
    call_command("cohorts", "--dataset", "record", "--by", "source", "--format", "csv")
    assert capsys.readouterr().out.splitlines() == [
        "cohort,size,0,1",
        "(none),1,1.0000,0.0000",
        "newsletter,1,1.0000,1.0000",
    ]


@pytest.fixture
def shoppers():
    """Three shoppers: two from the newsletter in January (one back in February, buying), one direct in February."""
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    newsletter = {"page_location": "/?utm_source=newsletter"}
    EventFactory(visitor_id=first, name="page_view", properties=newsletter, client_ts=datetime(2025, 1, 5, tzinfo=UTC))
    EventFactory(visitor_id=first, name="purchase", client_ts=datetime(2025, 2, 6, tzinfo=UTC))
    EventFactory(visitor_id=second, name="page_view", properties=newsletter, client_ts=datetime(2025, 1, 7, tzinfo=UTC))
    EventFactory(visitor_id=third, name="page_view", client_ts=datetime(2025, 2, 8, tzinfo=UTC))


REPORT = "/admin/segments/segment/cohorts/"


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["", "?period=week&metric=conversion&by=first", "?by=source&metric=retention"])
def test_staff_see_the_cohorts_heatmap(staff_client, shoppers, query):
    response = staff_client.get(REPORT + query)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="chart"' in body and "<svg" in body and '"kind": "heatmap"' in body
    assert "Download CSV" in body


@pytest.mark.django_db
def test_the_heatmap_shows_the_matrix_by_source(staff_client, shoppers):
    body = staff_client.get(REPORT + "?by=source").content.decode()
    assert "newsletter (2)" in body and "(none) (1)" in body
    assert "newsletter (2), 1: 50%" in body  # the cell's hover title: one of two back a month on


@pytest.mark.django_db
def test_the_csv_is_the_matrix(staff_client, shoppers):
    response = staff_client.get("/admin/segments/segment/cohorts.csv?period=month&metric=conversion&by=first")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert "cohorts-conversion-month-by-first.csv" in response["Content-Disposition"]
    expected = cohort_matrix(cohort_events(dataset="record"), period="month", metric="conversion")
    assert response.content.decode() == cohort_csv(expected)
    assert response.content.decode().splitlines() == ["cohort,size,0,1", "2025-01,2,0.0000,0.5000", "2025-02,1,0.0000,"]


@pytest.mark.django_db
def test_a_bad_choice_is_a_message_not_an_error(staff_client, shoppers):
    response = staff_client.get(REPORT + "?period=year")
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    response = staff_client.get("/admin/segments/segment/cohorts.csv?by=planet")
    assert response.status_code == 400
    assert "by: Select a valid choice" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("url", [REPORT, "/admin/segments/segment/cohorts.csv"])
def test_shoppers_who_are_not_staff_are_sent_to_the_login(client, shoppers, url):
    client.force_login(UserFactory(username="shopper"))
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    client.logout()
    assert client.get(url).status_code == 302
