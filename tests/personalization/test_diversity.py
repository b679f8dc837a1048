"""The diversity setting visibly changes a served slot on the demo catalog: more categories on the shelf."""

import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from personalization.models import SlotConfig
from personalization.serving import slot_configs_ensure, slots_publish
from personalization.serving.stages import Candidate, mmr
from personalization.training import model_train
from shop.catalog.models import Product
from shop.catalog.services.demo import catalog_seed_demo
from tests.factories.tracking import carts_history

pytestmark = pytest.mark.django_db

# About a dozen products in each of the demo's 40 categories: enough for one category to fill a shelf.
PRODUCTS = 480
AISLES = 3


@pytest.fixture
def demo_shop(django_capture_on_commit_callbacks):
    """The demo catalog, and past shoppers who each keep to one of three aisles with the odd pick from another,
    as the demo's simulated shoppers do."""
    catalog_seed_demo(admin_password="admin", products=PRODUCTS, seed=7, shoppers=0)
    sellable = Product.objects.active().filter(stock__gt=0).order_by("pk")
    by_category: dict[int, list[Product]] = {}
    for product in sellable:
        by_category.setdefault(product.category_id, []).append(product)
    aisles = sorted(by_category.values(), key=len, reverse=True)[:AISLES]
    rng = random.Random(3)
    baskets = []
    for shopper in range(60):
        home, other = aisles[shopper % AISLES], aisles[(shopper + 1 + shopper // AISLES % 2) % AISLES]
        baskets.append([*rng.sample(home, 4), rng.choice(other)])
    carts_history(baskets=baskets)
    # Training publishes the serving versions once its transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        for name in ("popularity", "trending", "itemknn"):
            model_train(name=name)
    return aisles[0][0]


def _categories_shown(client, product: Product, *, diversity: float) -> Counter:
    slot_configs_ensure()
    # No exploration, so the only difference between the two shelves is the diversity setting.
    SlotConfig.objects.filter(slot="product_also_bought").update(diversity=diversity, epsilon=0)
    slots_publish()
    block = client.get(product.get_absolute_url()).context["slots"]["product_also_bought"]
    assert block.algorithm == "itemknn"
    return Counter(shown.category_id for shown in block.products)


def test_diversity_spreads_a_shelf_over_more_categories(client, demo_shop):
    narrow = _categories_shown(client, demo_shop, diversity=0)
    spread = _categories_shown(client, demo_shop, diversity=1)
    assert sum(narrow.values()) == sum(spread.values()) == SlotConfig.objects.get(slot="product_also_bought").size
    # Without diversity, what is bought with the product (its own aisle) fills the shelf...
    assert narrow.most_common(1)[0][0] == demo_shop.category_id and len(narrow) < AISLES
    # ...with it, every aisle bought alongside gets a place, and no category holds most of the shelf.
    assert len(spread) > len(narrow) and len(spread) >= AISLES
    assert spread.most_common(1)[0][1] < narrow.most_common(1)[0][1]


def _mmr_by_definition(candidates: list[Candidate], *, diversity: float) -> list[Candidate]:
    """Maximal marginal relevance as written: at every pick, every remaining candidate's key, the first of equals."""
    top = max(candidate.score for candidate in candidates) or 1.0
    pool, chosen, shown = list(candidates), [], Counter()
    while pool:
        keys = [(1 - diversity) * c.score / top - diversity * min(1.0, shown[c.category] / 2) for c in pool]
        pick = pool.pop(keys.index(max(keys)))
        chosen.append(pick)
        shown[pick.category] += 1
    return chosen


@given(
    picks=st.lists(
        st.tuples(st.sampled_from([0.0, 0.25, 0.5, 1.0, 0.7071]), st.sampled_from([1, 2, 3, 4, None])),
        min_size=1,
        max_size=40,
    ),
    diversity=st.sampled_from([0.0, 0.1, 0.3, 0.5, 1.0]) | st.floats(0.0, 1.0),
)
@hypothesis_settings(max_examples=300, deadline=None)
def test_the_served_diversity_order_is_maximal_marginal_relevance(picks, diversity):
    """Served shelves are reordered by one head per category: the same order, ties included, as the whole-pool rule."""
    candidates = [
        Candidate(product_id=number, algorithm="itemknn", score=score, category=category)
        for number, (score, category) in enumerate(picks)
    ]
    served = [c.product_id for c in mmr(candidates, diversity=diversity)]
    assert served == [c.product_id for c in _mmr_by_definition(candidates, diversity=diversity)]
