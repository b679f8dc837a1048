"""Triggers and conditions are parsed, never run: a mistake is refused with the path of the wrong part."""

import pytest

from merchandising.definitions import (
    AbsenceTrigger,
    DefinitionError,
    PageTrigger,
    conditions_parse,
    segments_named,
    trigger_parse,
)


def test_the_ten_minute_pattern_parses_into_an_absence_timer():
    trigger = trigger_parse({"event": "view_item", "then_no": ["add_to_cart"], "within": "10m", "same": "product"})
    assert trigger == AbsenceTrigger(event="view_item", then_no=("add_to_cart",), window=10, same="product")
    assert trigger.subject_of({"product": 12}) == "12"


def test_a_page_trigger_is_about_one_subject_of_its_own_page():
    assert trigger_parse({"page": "search", "term": "  Mug "}) == PageTrigger(page="search", term="mug")
    with pytest.raises(DefinitionError, match=r"trigger.product: a product belongs on a product page"):
        trigger_parse({"page": "home", "product": 3})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "trigger: a trigger is an object"),
        ({"page": "checkout"}, "trigger.page: 'checkout' is no page"),
        (
            {"event": "view_item", "then_no": ["add_to_cart"], "within": "0m"},
            "trigger.within: a window must be at least one minute",
        ),
        ({"event": "view_item", "then_no": [], "within": "10m"}, "trigger.then_no: name the events"),
        (
            {"event": "view_item", "then_no": ["teleport"], "within": "10m"},
            r"trigger.then_no\[0\]: no event is named 'teleport'",
        ),
        ({"event": "view_item", "then_no": ["add_to_cart"]}, "trigger.within: say how long to wait"),
        (
            {"event": "view_item", "then_no": ["add_to_cart"], "within": "10m", "same": "colour"},
            "trigger.same: same is one of",
        ),
        ({"event": "view_item", "then_no": "add_to_cart", "within": "10m", "shoe": 1}, "trigger.shoe: unknown field"),
    ],
)
def test_a_wrong_trigger_is_refused_naming_the_part(raw, message):
    with pytest.raises(DefinitionError, match=message):
        trigger_parse(raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"all": []}, r"conditions.all: all takes a list"),
        ({"any": [{"segment": "a"}, {"hours": [18, 18]}]}, r"conditions.any\[1\].hours: from and to are the same hour"),
        (
            {"cart_value": {"at_least": 50, "below": 20}},
            "conditions.cart_value.below: below must be more than at_least",
        ),
        ({"cart_value": {"at_least": -1}}, "conditions.cart_value.at_least: -1 is not an amount"),
        ({"dates": ["2026-12-24", "2026-12-01"]}, r"conditions.dates\[1\]: the last day is before the first"),
        ({"dates": ["tomorrow", "2026-12-01"]}, r"conditions.dates\[0\]: 'tomorrow' is not a date"),
        ({"device": "fridge"}, "conditions.device: the devices are desktop, phone, tablet"),
        ({"segment": "a", "device": "phone"}, "conditions: each condition is an object with one key"),
        ({"eval": "__import__('os')"}, "conditions.eval: no such condition"),
    ],
)
def test_a_wrong_condition_is_refused_naming_the_part(raw, message):
    with pytest.raises(DefinitionError, match=message):
        conditions_parse(raw)


def test_a_tree_too_deep_is_refused_rather_than_walked():
    deep = {"segment": "a"}
    for _ in range(10):
        deep = {"not": deep}
    with pytest.raises(DefinitionError, match="nest"):
        conditions_parse(deep)


def test_the_segments_a_tree_names_are_found_for_the_save_check():
    tree = conditions_parse({"all": [{"segment": "a"}, {"not": {"any": [{"segment": "b"}, {"device": "phone"}]}}]})
    assert segments_named(tree) == {"a", "b"}
    assert conditions_parse({}) is None
