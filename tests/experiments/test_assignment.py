"""Assignment by hash: deterministic, split as planned, exclusive within a layer, holdout kept."""

import uuid
from collections import Counter
from dataclasses import replace

from experiments.assignment import PublishedExperiment, PublishedVariant, assignment_for, in_holdout
from experiments.stats import sample_ratio

OWNERS = [f"v:{uuid.UUID(int=i, version=4)}" for i in range(20_000)]


def experiment(*, id=1, slot="home_recommended", layer="slots", start=0, end=100, salt="s1", weights=(50, 50)):
    variants = tuple(PublishedVariant(key=f"v{i}", weight=w, kind="configured") for i, w in enumerate(weights))
    return PublishedExperiment(
        id=id, name=f"e{id}", slot=slot, layer=layer, start=start, end=end, salt=salt, variants=variants
    )


def test_a_visitor_keeps_their_variant_and_visitors_split_as_weighted():
    test = experiment(weights=(20, 30, 50))
    assert all(test.variant_for(owner) == test.variant_for(owner) for owner in OWNERS[:100])
    counts = Counter(test.variant_for(owner).key for owner in OWNERS)
    check = sample_ratio(counts=[counts["v0"], counts["v1"], counts["v2"]], weights=[20, 30, 50])
    assert check.p_value > 0.001 and check.deviation < 0.01


def test_traffic_allocation_takes_its_share_of_the_layer():
    test = experiment(start=10, end=40)
    share = sum(test.variant_for(owner) is not None for owner in OWNERS) / len(OWNERS)
    assert abs(share - 0.30) < 0.01


def test_experiments_of_one_layer_never_share_a_visitor_and_other_layers_cross_independently():
    first = experiment(id=1, slot="home_recommended", start=0, end=50, salt="a")
    second = experiment(id=2, slot="product_similar", start=50, end=100, salt="b")
    other_layer = experiment(id=3, slot="cart_complete", layer="cart", salt="c")
    both = 0
    crossed = Counter()
    for owner in OWNERS:
        placed = assignment_for(owner=owner, experiments=[first, second, other_layer], holdout_percent=0).by_slot
        both += "home_recommended" in placed and "product_similar" in placed
        assert ("home_recommended" in placed) != ("product_similar" in placed)
        if "home_recommended" in placed:
            crossed[(placed["home_recommended"][1].key, placed["cart_complete"][1].key)] += 1
    assert both == 0
    # the other layer's split is independent of this one's: four near-equal cells
    assert sample_ratio(counts=list(crossed.values()), weights=[1, 1, 1, 1]).p_value > 0.001


def test_the_holdout_is_the_same_visitors_whatever_runs_and_they_take_part_in_nothing():
    held = {owner for owner in OWNERS if in_holdout(owner=owner, percent=5)}
    assert abs(len(held) / len(OWNERS) - 0.05) < 0.005
    for tests in ([experiment(salt="x")], [experiment(salt="y"), experiment(id=2, slot="cart_complete", layer="b")]):
        for owner in list(held)[:200]:
            placed = assignment_for(owner=owner, experiments=tests, holdout_percent=5)
            assert placed.holdout and not placed.by_slot


def test_a_kept_placement_wins_over_the_hash_and_keeps_its_layer_from_the_others():
    first = experiment(id=1, start=0, end=50, salt="a")
    second = experiment(id=2, slot="product_similar", start=50, end=100, salt="b")
    for owner in OWNERS[:300]:
        placed = assignment_for(owner=owner, experiments=[first, second], holdout_percent=0, sticky={"1": "split:v1"})
        assert set(placed.by_slot) == {"home_recommended"}
        assert placed.by_slot["home_recommended"].variant.key == "v1"
    held = next(owner for owner in OWNERS if not in_holdout(owner=owner, percent=5))
    kept = {"holdout": "split:holdout"}
    assert assignment_for(owner=held, experiments=[first], holdout_percent=5, sticky=kept).holdout
    # a variant the experiment no longer has: the hash decides
    unknown = assignment_for(owner=OWNERS[0], experiments=[first, second], holdout_percent=0, sticky={"1": "split:x"})
    assert len(unknown.by_slot) == 1


def test_an_experiment_for_segments_takes_only_their_members():
    test = replace(experiment(), segments=("regulars", "new"))
    outside = assignment_for(owner=OWNERS[0], experiments=[test], holdout_percent=0, segments=frozenset({"other"}))
    inside = assignment_for(owner=OWNERS[0], experiments=[test], holdout_percent=0, segments=frozenset({"new"}))
    assert not outside.by_slot and set(inside.by_slot) == {"home_recommended"}


def test_a_bandit_draws_arms_by_their_shares_each_day_beside_a_fixed_split():
    test = replace(experiment(weights=(50, 50)), mode="bandit", split_percent=20, shares={"v0": 0.9, "v1": 0.1})
    placements = [test.place(owner, day=1) for owner in OWNERS]
    split = [p for p in placements if p.policy == "split"]
    bandit = [p for p in placements if p.policy == "bandit"]
    assert abs(len(split) / len(OWNERS) - 0.20) < 0.01
    assert abs(sum(p.variant.key == "v0" for p in split) / len(split) - 0.5) < 0.03
    assert abs(sum(p.variant.key == "v0" for p in bandit) / len(bandit) - 0.9) < 0.01
    assert {(p.variant.key, p.propensity) for p in bandit} == {("v0", 0.9), ("v1", 0.1)}
    assert {p.propensity for p in split} == {0.5}
    # the fixed split stays; the bandit's arms are drawn afresh the next day
    tomorrow = [test.place(owner, day=2) for owner in OWNERS]
    assert all(a == b for a, b in zip(placements, tomorrow, strict=True) if a.policy == "split")
    moved = sum(a.variant != b.variant for a, b in zip(placements, tomorrow, strict=True) if a.policy == "bandit")
    assert abs(moved / len(bandit) - 2 * 0.9 * 0.1) < 0.02
