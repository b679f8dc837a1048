"""Funnels: strict order, the window from the first step, users across devices, micro-conversions."""

import importlib
import uuid
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.factories.tracking import EventFactory
from tests.factories.tracking_analytics import FunnelFactory, FunnelStepFactory
from tracking.analytics.funnels import funnel_paths, funnel_report, micro_conversions_daily
from tracking.models import Funnel, FunnelStep

pytestmark = pytest.mark.django_db

BROWSE_TO_BUY = ["view_item", "add_to_cart", "begin_checkout", "purchase"]


@pytest.fixture
def base() -> datetime:
    return timezone.now().replace(microsecond=0) - timedelta(days=3)


def did(name: str, at: datetime, *, visitor: uuid.UUID, user_id: int | None = None, **fields):
    return EventFactory(name=name, client_ts=at, visitor_id=visitor, user_id=user_id, **fields)


def entrants(funnel: Funnel, *, days: int = 30) -> list[int]:
    end = timezone.now() + timedelta(days=1)
    report = funnel_report(funnel=funnel, start=end - timedelta(days=days), end=end)
    return [step.entrants for step in report.steps]


def test_shoppers_who_do_the_steps_in_order_convert(base):
    funnel = FunnelFactory(steps=BROWSE_TO_BUY)
    buyer, browser = uuid.uuid4(), uuid.uuid4()
    for minutes, name in [(0, "view_item"), (5, "add_to_cart"), (12, "begin_checkout"), (20, "purchase")]:
        did(name, base + timedelta(minutes=minutes), visitor=buyer)
    did("view_item", base, visitor=browser)
    did("view_item", base + timedelta(minutes=1), visitor=browser)  # a second view is not a second shopper
    report = funnel_report(funnel=funnel, start=base - timedelta(days=1), end=base + timedelta(days=1))
    assert [step.entrants for step in report.steps] == [2, 1, 1, 1]
    assert [step.from_previous for step in report.steps] == [None, 0.5, 1.0, 1.0]
    assert [step.from_first for step in report.steps] == [None, 0.5, 0.5, 0.5]
    assert [step.median_from_previous for step in report.steps] == [
        None,
        timedelta(minutes=5),
        timedelta(minutes=7),
        timedelta(minutes=8),
    ]


def test_steps_out_of_order_do_not_count(base):
    funnel = FunnelFactory(steps=BROWSE_TO_BUY)
    visitor = uuid.uuid4()
    did("add_to_cart", base, visitor=visitor)
    did("view_item", base + timedelta(minutes=1), visitor=visitor)
    did("purchase", base + timedelta(minutes=3), visitor=visitor)
    did("begin_checkout", base + timedelta(minutes=4), visitor=visitor)
    assert entrants(funnel) == [1, 0, 0, 0]


def test_a_step_past_the_window_from_the_first_step_does_not_count(base):
    funnel = FunnelFactory(steps=["view_item", "add_to_cart", "purchase"], window=timedelta(minutes=30))
    visitor = uuid.uuid4()
    did("view_item", base, visitor=visitor)
    did("add_to_cart", base + timedelta(minutes=20), visitor=visitor)
    # Within 30 minutes of the cart, but 40 after the view that began the attempt.
    did("purchase", base + timedelta(minutes=40), visitor=visitor)
    assert entrants(funnel) == [1, 1, 0]


def test_a_later_first_step_can_start_the_attempt_that_converts(base):
    funnel = FunnelFactory(steps=["view_item", "add_to_cart"], window=timedelta(hours=1))
    visitor = uuid.uuid4()
    did("view_item", base, visitor=visitor)
    did("view_item", base + timedelta(hours=5), visitor=visitor)
    did("add_to_cart", base + timedelta(hours=5, minutes=10), visitor=visitor)
    report = funnel_report(funnel=funnel, start=base - timedelta(hours=1), end=base + timedelta(days=1))
    assert [step.entrants for step in report.steps] == [1, 1]
    assert report.steps[1].median_from_previous == timedelta(minutes=10)


def test_a_signed_in_user_is_followed_across_devices_but_anonymous_visitors_are_not_merged(base):
    funnel = FunnelFactory(steps=["view_item", "add_to_cart"])
    phone, laptop = uuid.uuid4(), uuid.uuid4()
    did("view_item", base, visitor=phone, user_id=42)
    did("add_to_cart", base + timedelta(minutes=30), visitor=laptop, user_id=42)
    stranger, other = uuid.uuid4(), uuid.uuid4()
    did("view_item", base, visitor=stranger)
    did("add_to_cart", base + timedelta(minutes=30), visitor=other)
    assert entrants(funnel) == [2, 1]


def test_a_user_with_the_same_number_as_no_visitor_is_not_confused_with_one(base):
    """User ids and visitor ids live in separate spaces, whatever order they are numbered in."""
    funnel = FunnelFactory(steps=["view_item", "add_to_cart"])
    did("view_item", base, visitor=uuid.uuid4(), user_id=1)
    did("add_to_cart", base + timedelta(minutes=1), visitor=uuid.uuid4())
    assert entrants(funnel) == [1, 0]


def test_one_event_cannot_be_two_steps_of_the_same_name(base):
    funnel = FunnelFactory(steps=["view_item", "view_item"])
    once, twice = uuid.uuid4(), uuid.uuid4()
    did("view_item", base, visitor=once)
    did("view_item", base, visitor=twice)
    did("view_item", base + timedelta(minutes=2), visitor=twice)
    assert entrants(funnel) == [2, 1]


def test_steps_can_be_narrowed_to_a_property_or_product(base):
    funnel = FunnelFactory()
    FunnelStepFactory(
        funnel=funnel, position=1, event_name="page_view", property_key="page_type", property_value="cart"
    )
    FunnelStepFactory(funnel=funnel, position=2, event_name="add_to_cart", product_id=7)
    right, wrong_page, wrong_product = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    did("page_view", base, visitor=right, properties={"page_type": "cart"})
    did("add_to_cart", base + timedelta(minutes=1), visitor=right, product_id=7)
    did("page_view", base, visitor=wrong_page, properties={"page_type": "home"})
    did("add_to_cart", base + timedelta(minutes=1), visitor=wrong_page, product_id=7)
    did("page_view", base, visitor=wrong_product, properties={"page_type": "cart"})
    did("add_to_cart", base + timedelta(minutes=1), visitor=wrong_product, product_id=8)
    assert entrants(funnel) == [2, 1]


def test_only_first_steps_inside_the_range_start_an_attempt_but_later_steps_may_end_after_it(base):
    funnel = FunnelFactory(steps=["view_item", "purchase"])
    early, late = uuid.uuid4(), uuid.uuid4()
    did("view_item", base - timedelta(days=2), visitor=early)
    did("view_item", base + timedelta(hours=23), visitor=late)
    did("purchase", base + timedelta(hours=25), visitor=late, properties={"transaction_id": "T1", "value": 9})
    report = funnel_report(funnel=funnel, start=base, end=base + timedelta(days=1))
    assert [step.entrants for step in report.steps] == [1, 1]


def test_the_migration_makes_the_default_funnel_once():
    # Run the data migration's function again: tests that flush tables may have removed its row.
    migration = importlib.import_module("tracking.migrations.0003_funnels_volume_alerts")
    Funnel.objects.filter(name="Browse to buy").delete()
    migration.default_funnel(django_apps, None)
    migration.default_funnel(django_apps, None)
    funnel = Funnel.objects.get(name="Browse to buy")
    assert list(funnel.steps.values_list("event_name", flat=True)) == BROWSE_TO_BUY
    assert funnel.window == timedelta(days=1)


def test_a_step_filter_must_name_a_property_of_that_event():
    step = FunnelStepFactory.build(event_name="scroll", property_key="page_typo", property_value="x")
    with pytest.raises(ValidationError, match="no such property"):
        step.clean()
    step = FunnelStepFactory.build(event_name="scroll", property_key="percent", property_value="lots")
    with pytest.raises(ValidationError, match="int"):
        step.clean()
    FunnelStepFactory.build(event_name="scroll", property_key="percent", property_value="75").clean()


def test_an_integer_property_filter_matches_the_stored_number(base):
    funnel = FunnelFactory()
    FunnelStepFactory(funnel=funnel, position=1, event_name="scroll", property_key="percent", property_value="75")
    did("scroll", base, visitor=uuid.uuid4(), properties={"percent": 75})
    did("scroll", base, visitor=uuid.uuid4(), properties={"percent": 50})
    assert entrants(funnel) == [1]


def test_window_must_be_positive_and_bounded():
    with pytest.raises(ValidationError):
        Funnel(name="x", window=timedelta(0)).clean()
    with pytest.raises(ValidationError):
        Funnel(name="x", window=timedelta(days=400)).clean()


def test_micro_conversions_are_counted_per_day_with_deep_scrolls_only(base):
    visitor = uuid.uuid4()
    did("scroll", base, visitor=visitor, properties={"percent": 90})
    did("scroll", base, visitor=visitor, properties={"percent": 50})
    did("video_play", base, visitor=visitor, properties={"video": "how-to"})
    did("video_play", base + timedelta(days=1), visitor=visitor, properties={"video": "how-to"})
    did("add_to_wishlist", base, visitor=visitor, product_id=3)
    did("page_view", base, visitor=visitor)
    start = timezone.make_aware(datetime.combine(timezone.localdate(base), datetime.min.time()))
    table = micro_conversions_daily(start=start, end=start + timedelta(days=3))
    assert len(table) == 3
    first_day = table.iloc[0]
    assert first_day.to_dict() == {"micro_conversion": 0, "video_play": 1, "scroll": 1, "add_to_wishlist": 1}
    assert table["video_play"].tolist() == [1, 1, 0]


# An independent check of the vectorised matching: try every choice of events, not just the earliest.
def brute_force_depths(events: list[tuple[int, int, int]], *, steps: int, window: int, strict: list[bool]) -> dict:
    def reach(subject: int, anchor: int, step: int, after: int) -> int:
        best = 0
        for s, k, t in events:
            if s == subject and k == step and (t > after if strict[step] else t >= after) and t - anchor <= window:
                best = max(best, 1 + (reach(subject, anchor, step + 1, t) if step + 1 < steps else 0))
        return best

    depths = {}
    for subject, step, time in events:
        if step == 0:
            depth = 1 + (reach(subject, time, 1, time) if steps > 1 else 0)
            depths[subject] = max(depths.get(subject, 0), depth)
    return depths


@settings(deadline=None)
@example(events=[(0, 0, 0), (0, 1, 0)], window=5, strict=[False, True, False])  # a tie between two steps
@example(events=[(0, 0, 0), (0, 1, 10)], window=10, strict=[False, False, False])  # exactly at the window's end
@given(
    events=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 2), st.integers(0, 40)), min_size=1, max_size=25, unique=True
    ),
    window=st.integers(0, 30),
    strict=st.lists(st.booleans(), min_size=3, max_size=3),
)
def test_vectorised_funnel_matches_a_brute_force_search(events, window, strict):
    origin = datetime(2026, 1, 1, tzinfo=UTC)
    frame = pd.DataFrame(
        {
            "subject": [subject for subject, _, _ in events],
            "step": [step for _, step, _ in events],
            "ts": [origin + timedelta(minutes=time) for _, _, time in events],
        }
    )
    paths = funnel_paths(frame, steps=3, window=timedelta(minutes=window), strict=strict)
    assert dict(zip(paths["subject"], paths["depth"], strict=True)) == brute_force_depths(
        events, steps=3, window=window, strict=strict
    )


def test_funnel_steps_keep_their_order_by_position():
    funnel = FunnelFactory()
    FunnelStepFactory(funnel=funnel, position=2, event_name="purchase")
    FunnelStepFactory(funnel=funnel, position=1, event_name="view_item")
    assert [step.event_name for step in FunnelStep.objects.filter(funnel=funnel)] == ["view_item", "purchase"]
