"""What a page shows: slots filled from the live profile and precomputed models, at request time.

One Redis round trip reads the profile, the serving model versions and the slot settings.
Models are read-only snapshots held per process and reloaded when their version changes.
"""

import json
import logging
import random
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from redis.exceptions import RedisError

from shop.catalog.models import Product
from shop.keyspace import models_active_key, redis_client, slots_key

from .models import SlotConfig
from .profiles import Profile, profile_from_replies, profile_owner, profile_queue
from .recommenders.base import Context, Recommender, rank
from .recommenders.hybrid import PARTS, blend
from .training import model_load, models_publish, version_id

logger = logging.getLogger(__name__)

PAGE_SLOTS = {
    "home": ("home_recommended", "home_trending"),
    "product": ("product_also_bought", "product_similar"),
    "cart": ("cart_complete",),
}
# Weights of what a profile holds when it stands for a person's taste.
RECENT_WEIGHT, CART_WEIGHT, BOUGHT_WEIGHT = 1.0, 3.0, 5.0
# Candidates considered per slot before filters and diversity: enough that stock and
# history filters rarely leave a slot short, few enough to rank in well under a millisecond.
CANDIDATE_FACTOR = 4
FALLBACKS = ("trending", "popularity")

# name -> (version token, model): read-only snapshots, replaced whole when the token changes
# (another version serves, or the same one was refitted without someone who erased their data).
_snapshots: dict[str, tuple[str, Recommender]] = {}


@dataclass
class SlotBlock:
    slot: str
    title: str
    algorithm: str
    products: list[Product] = field(default_factory=list)


def _snapshot(name: str, versions: dict[str, str]) -> Recommender | None:
    version = versions.get(name)
    if version is None:
        return None
    held = _snapshots.get(name)
    if held is not None and held[0] == version:
        return held[1]
    try:
        model = model_load(version_id=version_id(version))
    except Exception:
        logger.exception("could not load %s v%s; keeping what serves", name, version)
        return held[1] if held else None
    _snapshots[name] = (version, model)
    return model


def _configs_from(raw: dict) -> dict[str, dict]:
    return {key.decode(): json.loads(value) for key, value in raw.items()}


# Starting settings of each slot, created when missing; merchandisers tune them in admin
# (and switch a slot off with is_active rather than deleting it, which brings it back).
SLOT_DEFAULTS = {
    "home_recommended": {
        "title": "Recommended for you",
        "algorithm": "hybrid",
        "size": 8,
        "diversity": 0.3,
        "epsilon": 0.1,
    },
    "home_trending": {"title": "Trending now", "algorithm": "trending", "size": 8, "diversity": 0.3, "epsilon": 0.0},
    "product_also_bought": {
        "title": "Customers also bought",
        "algorithm": "itemknn",
        "size": 8,
        "diversity": 0.2,
        "epsilon": 0.1,
    },
    "product_similar": {"title": "Similar items", "algorithm": "content", "size": 8, "diversity": 0.0, "epsilon": 0.0},
    "cart_complete": {
        "title": "Complete your order",
        "algorithm": "itemknn",
        "size": 4,
        "diversity": 0.3,
        "epsilon": 0.0,
    },
}


# What the shelves say when personalization is switched off and they show what is new.
OFF_TITLES = {
    "home_recommended": "New in",
    "home_trending": "More new arrivals",
    "product_also_bought": "New in",
    "product_similar": "More new arrivals",
    "cart_complete": "New in",
}


def slot_configs_ensure() -> None:
    existing = set(SlotConfig.objects.values_list("slot", flat=True))
    SlotConfig.objects.bulk_create(
        [SlotConfig(slot=slot, **values) for slot, values in SLOT_DEFAULTS.items() if slot not in existing],
        ignore_conflicts=True,
    )


def slots_publish() -> dict[str, dict]:
    """Copy slot settings to Redis, where pages read them with the profile."""
    slot_configs_ensure()
    configs = {
        config.slot: {
            "title": config.title,
            "algorithm": config.algorithm,
            "size": config.size,
            "weights": {
                "collaborative": config.weight_collaborative,
                "content": config.weight_content,
                "recency": config.weight_recency,
                "popularity": config.weight_popularity,
            },
            "diversity": config.diversity,
            "epsilon": config.epsilon,
            "is_active": config.is_active,
        }
        for config in SlotConfig.objects.all()
    }
    pipe = redis_client().pipeline()
    pipe.delete(slots_key())
    if configs:
        pipe.hset(slots_key(), mapping={slot: json.dumps(value) for slot, value in configs.items()})
    pipe.execute()
    return configs


def _read_state(owner: str | None) -> tuple[Profile | None, dict[str, str], dict[str, dict]]:
    """Profile, serving versions and slot settings: one pipelined round trip."""
    pipe = redis_client().pipeline(transaction=False)
    if owner:
        profile_queue(pipe, owner=owner)
    pipe.hgetall(models_active_key())
    pipe.hgetall(slots_key())
    replies = pipe.execute()
    profile = profile_from_replies(owner=owner, replies=replies[:-2]) if owner else None
    versions = {key.decode(): value.decode() for key, value in replies[-2].items()}
    configs = _configs_from(replies[-1])
    if not configs:
        # Redis was flushed or never told: the database knows; republish for the next page.
        configs, versions = slots_publish(), models_publish()
    return profile, versions, configs


def _indices(model: Recommender, product_ids) -> list[int]:
    found = (model.data.item_index(pid) for pid in product_ids)
    return [index for index in found if index is not None]


def _context(model: Recommender, *, page_items: list[int], profile: Profile | None) -> Context:
    """The person as the model sees them: what this page is about, then their profile."""
    history: dict[int, float] = {}
    recent = list(page_items)
    if profile is not None:
        for position, index in enumerate(_indices(model, profile.recent)):
            history[index] = history.get(index, 0.0) + RECENT_WEIGHT / (1 + position)
        for index in _indices(model, profile.cart):
            history[index] = history.get(index, 0.0) + CART_WEIGHT
        for index in _indices(model, profile.bought):
            history[index] = history.get(index, 0.0) + BOUGHT_WEIGHT
        recent += [pid for pid in profile.recent if pid not in recent]
    recent_indices = tuple(_indices(model, recent))
    for index in _indices(model, page_items):
        history[index] = history.get(index, 0.0) + CART_WEIGHT
    return Context(history=history, recent=recent_indices)


def _scores(name: str, config: dict, versions: dict[str, str], context_for) -> tuple[Recommender, np.ndarray] | None:
    """Scores of one algorithm, or of the hybrid's served parts blended by the slot's weights."""
    if name != "hybrid":
        model = _snapshot(name, versions)
        return (model, model.score(context_for(model))) if model is not None else None
    models = {
        part: model
        for part, algorithm in PARTS.items()
        if config["weights"].get(part, 0) > 0 and (model := _snapshot(algorithm, versions)) is not None
    }
    if not models:
        return None
    base = next(iter(models.values()))
    scores = {part: _aligned(model.score(context_for(model)), model, base) for part, model in models.items()}
    return base, blend(scores, config["weights"], base.data.n_items)


def _aligned(scores: np.ndarray, model: Recommender, base: Recommender) -> np.ndarray:
    """One model's scores over the base model's items: parts trained at different times may
    know different products (one added in between), so they meet by product id, not index."""
    ours, theirs = model.data.item_ids, base.data.item_ids
    if len(ours) == len(theirs) and np.array_equal(ours, theirs):
        return scores
    aligned = np.zeros(len(theirs), dtype=np.float64)
    positions = np.searchsorted(theirs, ours)
    found = positions < len(theirs)
    found[found] = theirs[positions[found]] == ours[found]
    aligned[positions[found]] = np.asarray(scores)[found]
    return aligned


def _mmr(ranked: list[tuple[int, float]], categories: np.ndarray | None, *, size: int, diversity: float) -> list[int]:
    """Maximal marginal relevance over categories: each pick trades relevance for a category
    not shown yet, so a slot does not fill with eight near-identical mugs."""
    if not ranked:
        return []
    if categories is None or diversity <= 0:
        return [index for index, _ in ranked]
    top = max(score for _, score in ranked) or 1.0
    pool = [(index, score / top) for index, score in ranked]
    chosen: list[int] = []
    shown: dict[int, int] = {}
    while pool:
        best = max(
            range(len(pool)),
            key=lambda i: (
                (1 - diversity) * pool[i][1] - diversity * min(1.0, shown.get(int(categories[pool[i][0]]), 0) / 2)
            ),
        )
        index, _ = pool.pop(best)
        chosen.append(index)
        shown[int(categories[index])] = shown.get(int(categories[index]), 0) + 1
    return chosen


def _slot_candidates(
    config: dict,
    versions: dict[str, str],
    *,
    page_items: list[int],
    profile: Profile | None,
    exclude_products: set[int],
) -> tuple[str, list[int]]:
    """Ranked product ids for a slot: its own algorithm first, then the fallbacks, until there
    are enough to survive the stock filter. Returns the algorithm that led, for attribution."""
    size = config["size"]
    names = [config["algorithm"], *[name for name in FALLBACKS if name != config["algorithm"]]]
    product_ids: list[int] = []
    leader = None
    for name in names:
        found = _scores(name, config, versions, lambda model: _context(model, page_items=page_items, profile=profile))
        if found is None:
            continue
        model, scores = found
        exclude = set(_indices(model, exclude_products)) | set(_indices(model, product_ids))
        ranked = rank(scores, model.tie_rank(), n=size * CANDIDATE_FACTOR, exclude=exclude)
        if leader is None:
            # The leading algorithm speaks only where it has an opinion; ties are the fallbacks' job.
            ranked = [(index, score) for index, score in ranked if score > 0]
            ordered = _mmr(ranked, model.data.item_features.get("category"), size=size, diversity=config["diversity"])
            if ordered:
                leader = name
        else:
            ordered = [index for index, _ in ranked]
        product_ids += [int(model.data.item_ids[index]) for index in ordered]
        if len(product_ids) >= size * CANDIDATE_FACTOR:
            break
    return leader or config["algorithm"], product_ids


def _explore(
    labelled: list[tuple[int, str]], tail: list[int], *, epsilon: float, rng: random.Random
) -> list[tuple[int, str]]:
    """Epsilon-greedy: now and then one late position shows a long-tail product instead."""
    if not labelled or not tail or rng.random() >= epsilon:
        return labelled
    position = rng.randrange(len(labelled) // 2, len(labelled))
    return [*labelled[:position], (rng.choice(tail), "explore"), *labelled[position + 1 :]]


def _newest(*, exclude: set[int], limit: int) -> list[int]:
    queryset = Product.objects.active().in_stock().exclude(pk__in=exclude).order_by("-created_at", "-id")
    return list(queryset.values_list("pk", flat=True)[:limit])


def page_slots(*, page: str, user_id: int | None, visitor_id, page_products: list[int] = (), rng=None) -> dict:
    """The filled slots of one page, by slot name; empty when personalization is off."""
    if page not in PAGE_SLOTS:
        return {}
    rng = rng or random.Random()
    if not settings.PERSONALIZATION_ENABLED:
        # Off: the same shelves filled with the newest products, without profile or models.
        wanted = {
            slot: ({**SLOT_DEFAULTS[slot], "title": OFF_TITLES[slot], "epsilon": 0.0}, "newest", [])
            for slot in PAGE_SLOTS[page]
        }
        return _blocks(wanted, exclude=set(page_products), rng=rng)
    owner = profile_owner(visitor_id=visitor_id, user_id=user_id) if (user_id or visitor_id) else None
    try:
        profile, versions, configs = _read_state(owner)
    except RedisError:
        logger.warning("personalization unavailable: Redis did not answer")
        return {}
    exclude = set(page_products)
    if profile is not None:
        exclude |= set(profile.cart) | set(profile.bought)
    wanted: dict[str, tuple[dict, str, list[int]]] = {}
    for slot in PAGE_SLOTS[page]:
        config = configs.get(slot)
        if not config or not config["is_active"]:
            continue
        algorithm, candidates = _slot_candidates(
            config, versions, page_items=list(page_products), profile=profile, exclude_products=exclude
        )
        wanted[slot] = (config, algorithm, candidates)
    return _blocks(wanted, exclude=exclude, rng=rng)


def _blocks(wanted: dict, *, exclude: set[int], rng: random.Random) -> dict[str, SlotBlock]:
    """Turn ranked candidate ids into in-stock products and fill short slots.

    Stock is checked on ids alone, then only the products that will show are loaded: loading
    every candidate as a model with its images cost ~6 ms a page for 64 of them.
    """
    ids = {pid for _, _, candidates in wanted.values() for pid in candidates}
    sellable = set(Product.objects.active().in_stock().filter(pk__in=ids).values_list("pk", flat=True))
    picks: dict[str, list[tuple[int, str]]] = {}
    shown: set[int] = set(exclude)
    for slot, (config, algorithm, candidates) in wanted.items():
        size = config["size"]
        chosen = [pid for pid in candidates if pid in sellable and pid not in shown][:size]
        shown.update(chosen)
        if len(chosen) < size:
            # No model yet, or too much sold out: the newest in-stock products fill the rest.
            newest = _newest(exclude=shown, limit=size - len(chosen))
            shown.update(newest)
        else:
            newest = []
        tail = [pid for pid in candidates[size * 2 :] if pid in sellable and pid not in shown]
        labelled = [(pid, algorithm) for pid in chosen] + [(pid, "newest") for pid in newest]
        picks[slot] = _explore(labelled, tail, epsilon=config["epsilon"], rng=rng)
        shown.update(pid for pid, _ in picks[slot])
    products = Product.objects.select_related("brand", "category").prefetch_related("images").in_bulk(shown - exclude)
    blocks: dict[str, SlotBlock] = {}
    for slot, labelled in picks.items():
        shelf = []
        for position, (pid, algorithm) in enumerate(labelled, start=1):
            product = products[pid]
            product.rec_slot, product.rec_position, product.rec_algorithm = slot, position, algorithm
            shelf.append(product)
        if shelf:
            config, algorithm, _ = wanted[slot]
            blocks[slot] = SlotBlock(slot=slot, title=config["title"], algorithm=algorithm, products=shelf)
    return blocks
