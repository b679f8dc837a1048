"""Assignment by hash: deterministic, split as planned, exclusive within a layer, holdout kept."""

import uuid
from collections import Counter

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
