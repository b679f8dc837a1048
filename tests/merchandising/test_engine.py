"""Which rules fire on a render: priority, exclusive groups, caps, schedules and conditions, deterministically."""

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from merchandising.engine import Facts, decide, index_build

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
BLOCK = {
    "id": 1, "name": "Winter", "slot": "home_banner", "kind": "banner", "headline": "Winter sale", "body": "",
    "link_url": "", "link_text": "", "products": [], "segments": [], "excluded": [], "only_by_rule": False,
    "priority": 0, "starts": None, "ends": None,
}  # fmt: skip


def rule(rule_id: int, **fields) -> dict:
    block = {**BLOCK, "id": 100 + rule_id, "name": f"block {rule_id}", "slot": fields.pop("slot", "home_banner")}
    return {
        "id": rule_id, "name": f"rule {rule_id}", "priority": 0, "group": "", "cap": None, "starts": None,
        "ends": None, "trigger": {"page": "home"}, "conditions": {},
        "actions": [{"kind": "block", "content_slot": "", "slot": "", "position": None, "products": [],
                     "category": None, "subject_product": False, "block": block, "offer": None}],
        **fields,
    }  # fmt: skip


def index(*rules, blocks=()):
    return index_build(json.dumps({"rules": list(rules), "blocks": list(blocks)}))


def home(**facts) -> Facts:
    return Facts(page="home", now=facts.pop("now", NOW), **facts)


def fired(decision) -> list[str]:
    return [verdict.name for verdict in decision.fired]


def test_the_higher_priority_takes_the_slot_and_the_other_is_told_why():
    decision = decide(index(rule(1, priority=1), rule(2, priority=5)), home(), content_slots=["home_banner"])
    assert decision.placements["home_banner"].rule_id == 2
    assert fired(decision) == ["rule 2", "rule 1"]  # both fire; the slot shows the first


def test_ties_are_broken_by_id_so_every_render_agrees():
    for _ in range(3):
        decision = decide(index(rule(7), rule(3)), home(), content_slots=["home_banner"])
        assert decision.placements["home_banner"].rule_id == 3


def test_only_one_rule_of_an_exclusive_group_fires():
    decision = decide(
        index(rule(1, group="welcome", priority=2), rule(2, group="welcome", slot="site_banner")),
        home(),
        content_slots=["home_banner", "site_banner"],
    )
    assert fired(decision) == ["rule 1"]
    (skipped,) = [v for v in decision.trace if not v.fired]
    assert skipped.reason == "group welcome: “rule 1” fired first"
    assert "site_banner" not in decision.placements


def test_a_capped_rule_stops_at_its_cap_for_the_day():
    rules = index(rule(1, cap=3))
    assert fired(decide(rules, home(shown_today={1: 2}), content_slots=["home_banner"])) == ["rule 1"]
    decision = decide(rules, home(shown_today={1: 3}), content_slots=["home_banner"])
    assert fired(decision) == [] and decision.trace[0].reason == "shown 3 of 3 times today"


@given(offset=st.integers(min_value=-7200, max_value=7200))
def test_a_schedule_applies_from_its_start_up_to_but_not_at_its_end(offset):
    starts, ends = NOW.timestamp(), (NOW + timedelta(hours=1)).timestamp()
    now = NOW + timedelta(seconds=offset)
    decision = decide(index(rule(1, starts=starts, ends=ends)), home(now=now), content_slots=["home_banner"])
    assert bool(fired(decision)) == (starts <= now.timestamp() < ends)


@given(start=st.integers(0, 23), end=st.integers(0, 24), hour=st.integers(0, 23))
def test_an_hours_window_holds_inside_it_also_across_midnight(start, end, hour):
    if start == end % 24:
        return
    conditions = {"hours": [start, end]}
    now = datetime(2026, 12, 1, hour, 30, tzinfo=UTC)  # the test settings keep TIME_ZONE at UTC
    decision = decide(index(rule(1, conditions=conditions)), home(now=now), content_slots=["home_banner"])
    end = end % 24 if end != 24 else 24
    inside = start <= hour < end if start < end else (hour >= start or hour < end)
    assert bool(fired(decision)) == inside


def test_conditions_say_which_part_failed():
    conditions = {"all": [{"segment": "newsletter"}, {"cart_value": {"at_least": 50}}]}
    rules = index(rule(1, conditions=conditions))
    decision = decide(rules, home(segments=frozenset({"newsletter"}), cart={5: 1}, cart_value_of=lambda c: 2000),
                      content_slots=["home_banner"])  # fmt: skip
    assert decision.trace[0].reason == "cart value £20.00"
    decision = decide(rules, home(segments=frozenset({"newsletter"}), cart={5: 3}, cart_value_of=lambda c: 6000),
                      content_slots=["home_banner"])  # fmt: skip
    assert fired(decision) == ["rule 1"]


def test_a_rule_for_one_product_is_looked_at_only_on_that_products_page():
    rules = index(rule(1, trigger={"page": "product", "product": 5}, slot="product_banner"))
    here = decide(rules, Facts(page="product", product=5, now=NOW), content_slots=["product_banner"])
    elsewhere = decide(rules, Facts(page="product", product=6, now=NOW), content_slots=["product_banner"])
    assert fired(here) == ["rule 1"] and elsewhere.trace == []


def test_a_fired_timer_shows_its_rule_with_its_subject():
    absent = {"event": "view_item", "then_no": ["add_to_cart"], "within": "10m", "same": "product"}
    rules = index(rule(1, trigger=absent, slot="site_banner"))
    assert decide(rules, home(), content_slots=["site_banner"]).trace == []
    decision = decide(rules, home(fired={1: "42"}), content_slots=["site_banner"])
    assert decision.placements["site_banner"].subject_product == 42


def test_blocks_show_to_their_segments_and_not_to_excluded_ones():
    members = {**BLOCK, "id": 2, "name": "Members", "segments": ["vip"], "priority": 5}
    everyone = {**BLOCK, "id": 3, "name": "Everyone", "excluded": ["staff"]}
    rules = index(blocks=[members, everyone])
    assert (
        decide(rules, home(segments=frozenset({"vip"})), content_slots=["home_banner"])
        .placements["home_banner"]
        .block.name
        == "Members"
    )
    assert decide(rules, home(), content_slots=["home_banner"]).placements["home_banner"].block.name == "Everyone"
    assert (
        "home_banner"
        not in decide(rules, home(segments=frozenset({"staff"})), content_slots=["home_banner"]).placements
    )
