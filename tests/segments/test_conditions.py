"""Each kind of condition, true and false, live and by backfill; bad definitions refused with the part named."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from segments.conditions import ConditionError, definition_parse
from tests.factories.segments import SegmentFactory

from .helpers import backfilled, fire_at, ingest, live

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
ABANDONERS = {"all": [{"event": "add_to_cart", "within": "24h"}, {"event": "purchase", "within": "24h", "at_most": 0}]}


def both(owner: str, *, at: datetime) -> set[str]:
    """The live set and the backfill's must agree; the test then checks what they hold."""
    now_live = live(owner)
    assert now_live == backfilled(owner, at=at), "live and backfill disagree"
    return now_live


def test_cart_abandoners_enter_on_the_cart_leave_on_purchase():
    SegmentFactory(slug="abandoners", definition=ABANDONERS)
    visitor = uuid.uuid4()
    owner = f"v:{visitor}"
    ingest(visitor, "add_to_cart", at=T0, product_id=3)
    assert both(owner, at=T0) == {"abandoners"}
    ingest(visitor, "purchase", at=T0 + timedelta(hours=1), props={"transaction_id": "t1", "value": 20})
    assert both(owner, at=T0 + timedelta(hours=1)) == set()


def test_an_abandoned_cart_ages_out_of_its_window_within_a_minute_by_its_due_time():
    SegmentFactory(slug="abandoners", definition=ABANDONERS)
    visitor = uuid.uuid4()
    owner = f"v:{visitor}"
    ingest(visitor, "add_to_cart", at=T0, product_id=3)
    # One second before the window's edge the cart still counts; within a minute after, it has left.
    fire_at(T0 + timedelta(hours=24) - timedelta(seconds=1))
    assert both(owner, at=T0 + timedelta(hours=24) - timedelta(seconds=1)) == {"abandoners"}
    result = fire_at(T0 + timedelta(hours=24, seconds=5))
    assert result.exited == 1
    assert both(owner, at=T0 + timedelta(hours=24, seconds=5)) == set()


def test_three_views_of_a_category_in_this_session():
    SegmentFactory(
        slug="keen", definition={"event": "view_item", "in_session": True, "at_least": 3, "where": {"category": 5}}
    )
    visitor, session = uuid.uuid4(), uuid.uuid4()
    owner = f"v:{visitor}"
    for minute in range(2):
        ingest(visitor, "view_item", at=T0 + timedelta(minutes=minute), session=session, product_id=1, category_id=5)
    ingest(visitor, "view_item", at=T0 + timedelta(minutes=2), session=session, product_id=1, category_id=6)
    assert both(owner, at=T0 + timedelta(minutes=2)) == set()
    ingest(visitor, "view_item", at=T0 + timedelta(minutes=3), session=session, product_id=1, category_id=5)
    assert both(owner, at=T0 + timedelta(minutes=3)) == {"keen"}
    # A new session starts counting from nothing.
    ingest(visitor, "view_item", at=T0 + timedelta(hours=2), session=uuid.uuid4(), product_id=1, category_id=5)
    assert both(owner, at=T0 + timedelta(hours=2)) == set()


def test_average_order_value_above_100():
    SegmentFactory(slug="big", definition={"aggregate": "avg", "of": "purchase", "within": "90d", "above": 100})
    high, low = uuid.uuid4(), uuid.uuid4()
    for visitor, values in ((high, (80, 150)), (low, (80, 100))):
        for index, value in enumerate(values):
            ingest(
                visitor,
                "purchase",
                at=T0 + timedelta(days=index),
                props={"transaction_id": f"{visitor}{index}", "value": value},
            )
    at = T0 + timedelta(days=2)
    assert both(f"v:{high}", at=at) == {"big"}
    assert both(f"v:{low}", at=at) == set()


def test_tenure_of_thirty_days_is_reached_by_time_alone():
    SegmentFactory(slug="regulars", definition={"tenure": {"at_least": "30d"}})
    visitor = uuid.uuid4()
    owner = f"v:{visitor}"
    ingest(visitor, "page_view", at=T0)
    fire_at(T0 + timedelta(days=30) - timedelta(minutes=1))
    assert both(owner, at=T0 + timedelta(days=30) - timedelta(minutes=1)) == set()
    fire_at(T0 + timedelta(days=30, seconds=30))
    assert both(owner, at=T0 + timedelta(days=30, seconds=30)) == {"regulars"}


def test_source_device_feature_and_membership_of_another_segment():
    SegmentFactory(slug="newsletter", definition={"source": "newsletter", "within": "30d"})
    SegmentFactory(slug="mobile", definition={"device": "phone", "within": "7d"})
    SegmentFactory(slug="mobile-readers", definition={"all": [{"segment": "newsletter"}, {"segment": "mobile"}]})
    SegmentFactory(slug="repeat", definition={"feature": "orders", "at_least": 2})
    reader, other = uuid.uuid4(), uuid.uuid4()
    ingest(
        reader,
        "page_view",
        at=T0,
        props={"page_location": "https://shop.test/?utm_source=newsletter", "device": "phone"},
    )
    ingest(other, "page_view", at=T0, props={"page_location": "https://shop.test/?utm_source=ads", "device": "phone"})
    for index in range(2):
        ingest(other, "purchase", at=T0 + timedelta(hours=index), props={"transaction_id": f"o{index}", "value": 5})
    assert both(f"v:{reader}", at=T0) == {"newsletter", "mobile", "mobile-readers"}
    assert both(f"v:{other}", at=T0 + timedelta(hours=1)) == {"mobile", "repeat"}


def test_not_inverts_and_any_joins():
    SegmentFactory(
        slug="browsers",
        definition={"any": [{"event": "search", "within": "1h"}, {"not": {"feature": "product_views"}}]},
    )
    searcher, viewer = uuid.uuid4(), uuid.uuid4()
    ingest(searcher, "search", at=T0, props={"search_term": "wool"})
    ingest(viewer, "view_item", at=T0, product_id=1)
    assert both(f"v:{searcher}", at=T0) == {"browsers"}
    assert both(f"v:{viewer}", at=T0) == set()


def deep(levels: int) -> dict:
    node = {"event": "view_item", "within": "1h"}
    for _ in range(levels):
        node = {"not": node}
    return node


@pytest.mark.parametrize(
    ("definition", "named"),
    [
        ({"event": "teleport", "within": "1h"}, "event: no event is named 'teleport'"),
        ({"all": [{"event": "view_item", "within": "1h", "colour": "red"}]}, "all[0].colour: unknown field"),
        ({"event": "view_item", "within": "1h", "where": {"colour": "red"}}, "where.colour: no such field"),
        ({"event": "view_item", "within": "0m"}, "within: a window must be at least one minute"),
        ({"event": "view_item", "within": "3650d"}, "within: a window may be at most 365 days"),
        ({"event": "view_item", "within": "soon"}, "within: 'soon' is not a window"),
        (deep(50), "conditions may nest at most 8 deep"),
        ({"any": []}, "any: must be a non-empty list"),
        ("view_item", "each condition is an object"),
        ({"event": ["purchase"], "within": "1h"}, "event: no event is named ['purchase']"),
        ({"feature": []}, "feature: no feature []"),
        ({"aggregate": "sum", "of": {}, "within": "1h", "above": 1}, "of: no event is named {}"),
        ({"feature": "spend"}, "give at_least or at_most for an amount"),
        ({"device": "mobile", "within": "7d"}, "device.device: 'mobile' is not a device; the tracker sends desktop"),
    ],
)
def test_bad_definitions_are_refused_naming_the_wrong_part(definition, named):
    with pytest.raises(ConditionError, match=None) as caught:
        definition_parse(definition)
    assert named in str(caught.value)
    with pytest.raises(ValidationError) as invalid:
        SegmentFactory.build(slug="bad", definition=definition).full_clean()
    assert named in str(invalid.value.message_dict["definition"])
