"""The stages that fill a page's slots, in order: each one small object with one method.

A stage reads and changes the PageFill (every slot of the page at once, so a stage can ask
the database once for the whole page) and notes what it changed, which staff see under each
shelf. PERSONALIZATION_SLOT_STAGES lists the stages by dotted path; a new step (a
merchandising rule, an experiment's variant) is a class added to that list.
"""

import random
from dataclasses import dataclass, field
from typing import ClassVar

from shop.catalog.selectors import products_newest_ids, products_sellable_ids

from ..profiles import Profile
from ..recommenders.base import Taste, rank
from ..slots import RECENT, Slot, SlotSettings
from .state import ServingState

# Weights of what a profile holds when it stands for a person's taste.
RECENT_WEIGHT, CART_WEIGHT, BOUGHT_WEIGHT = 1.0, 3.0, 5.0
# Candidates considered per slot before filters and diversity: enough that stock and
# history filters rarely leave a slot short, few enough to rank in well under a millisecond.
CANDIDATE_FACTOR = 4
FALLBACKS = ("trending", "popularity")
NEWEST = "newest"
EXPLORE = "explore"


@dataclass
class Candidate:
    """One product a slot may show, with the algorithm that proposed it (for attribution)."""

    product_id: int
    algorithm: str
    score: float = 0.0
    category: int | None = None


@dataclass(frozen=True)
class TraceStep:
    stage: str
    note: str


@dataclass
class SlotFill:
    """One slot while its stages run: candidates in order, then the products it shows."""

    slot: Slot
    settings: SlotSettings
    candidates: list[Candidate] = field(default_factory=list)
    # The algorithm that proposed the leading candidates; the block is attributed to it.
    leader: str | None = None
    # What the shelf says instead of its settings' title, when a stage decided so.
    title: str | None = None
    # The product the shelf was built from (a slot built from the last viewed product).
    because: int | None = None
    shown: list[Candidate] = field(default_factory=list)
    # Sellable candidates past the shelf, for exploration.
    tail: list[Candidate] = field(default_factory=list)
    trace: list[TraceStep] = field(default_factory=list)

    def note(self, stage: "Stage", text: str) -> None:
        self.trace.append(TraceStep(stage=stage.name, note=text))


@dataclass
class PageFill:
    """The page being filled: what it is about, who looks, and every slot it shows."""

    page: str
    slots: list[SlotFill]
    page_products: tuple[int, ...]
    state: ServingState | None  # None when personalization is off
    rng: random.Random
    # Who looks, for stages that record what they showed (experiment exposures).
    visitor_id: object = None
    user_id: int | None = None
    # What else the page is about, and on what, for stages that target pages (merchandising rules).
    category_id: int | None = None
    search_term: str | None = None
    device: str = "desktop"
    # What one stage worked out for a later one on this page, by the stage's own key (a stage
    # object serves every page of its process, so it keeps nothing of a page itself).
    shared: dict = field(default_factory=dict)
    # Products a stage took off every shelf of this page (a merchandiser's exclusion): the
    # fallback's newest products leave them out too.
    left_out: set[int] = field(default_factory=set)

    @property
    def profile(self) -> Profile | None:
        return self.state.profile if self.state is not None else None

    @property
    def excluded(self) -> set[int]:
        """Never recommended on this page: what it shows already, what is in the cart or bought."""
        excluded = set(self.page_products) | self.left_out
        if self.profile is not None:
            excluded |= set(self.profile.cart) | set(self.profile.bought)
        return excluded

    @property
    def last_viewed(self) -> int | None:
        """The product the visitor viewed last, besides what this page shows."""
        recent = self.profile.recent if self.profile is not None else []
        return next((product for product in recent if product not in self.page_products), None)

    def taste(self) -> Taste:
        """The person as the models see them: what this page is about, then their profile."""
        history: dict[int, float] = {}
        recent = list(self.page_products)
        profile = self.profile
        if profile is not None:
            for position, product in enumerate(profile.recent):
                history[product] = history.get(product, 0.0) + RECENT_WEIGHT / (1 + position)
            for product in profile.cart:
                history[product] = history.get(product, 0.0) + CART_WEIGHT
            for product in profile.bought:
                history[product] = history.get(product, 0.0) + BOUGHT_WEIGHT
            recent += [product for product in profile.recent if product not in recent]
        for product in self.page_products:
            history[product] = history.get(product, 0.0) + CART_WEIGHT
        return Taste(history=history, recent=tuple(recent))


class Stage:
    """One step of filling a page's slots."""

    name: ClassVar[str]

    def apply(self, page: PageFill) -> None:
        raise NotImplementedError


class ModelCandidates(Stage):
    """Ranked candidates from the slot's algorithm, then the fallbacks, until there are enough
    to survive the filters; the leading algorithm speaks only where it has an opinion. A slot of
    recent views takes the profile's; a slot built from the last viewed product asks its
    algorithm about that product alone."""

    name = "candidates"

    def apply(self, page: PageFill) -> None:
        if page.state is None:
            return
        everything, excluded = page.taste(), page.excluded
        for fill in page.slots:
            if fill.settings.algorithm == NEWEST:
                continue  # generic newest products: the fallback's list, for everyone alike
            if fill.settings.algorithm == RECENT:
                self._recent(page, fill, excluded=excluded)
                continue
            taste = everything
            if fill.slot.from_last_viewed:
                fill.because = page.last_viewed
                if fill.because is None:
                    continue  # nothing viewed yet: nothing to be because of
                taste = Taste(history={fill.because: 1.0}, recent=(fill.because,))
            wanted = fill.settings.size * CANDIDATE_FACTOR
            names = [fill.settings.algorithm]
            if fill.slot.fill_short:
                names += [name for name in FALLBACKS if name != fill.settings.algorithm]
            for name in names:
                model = page.state.model(name, settings=fill.settings)
                if model is None:
                    continue
                taken = excluded | {candidate.product_id for candidate in fill.candidates}
                exclude = {index for pid in taken if (index := model.data.item_index(pid)) is not None}
                ranked = rank(model.score_taste(taste), model.tie_rank(), n=wanted, exclude=exclude)
                if fill.leader is None:
                    # Ties at zero are no opinion: the fallbacks' job.
                    ranked = [(index, score) for index, score in ranked if score > 0]
                    if ranked:
                        fill.leader = name
                indices = [index for index, _ in ranked]
                # Looked up for the whole list at once: a numpy item read per candidate cost
                # more than ranking did.
                ids = model.data.item_ids[indices].tolist()
                categories = model.data.item_features.get("category")
                kinds = categories[indices].tolist() if categories is not None else [None] * len(ids)
                added = [
                    Candidate(
                        product_id=int(pid),
                        algorithm=name,
                        score=score,
                        category=int(kind) if kind is not None else None,
                    )
                    for pid, kind, (_, score) in zip(ids, kinds, ranked, strict=True)
                ]
                fill.candidates += added
                if added:
                    fill.note(self, f"{len(added)} from {name}")
                if len(fill.candidates) >= wanted:
                    break

    def _recent(self, page: PageFill, fill: SlotFill, *, excluded: set[int]) -> None:
        recent = page.profile.recent if page.profile is not None else []
        fill.candidates = [Candidate(product_id=pid, algorithm=RECENT) for pid in recent if pid not in excluded]
        if fill.candidates:
            fill.leader = RECENT
            fill.note(self, f"{len(fill.candidates)} recently viewed")


class SellableFilter(Stage):
    """Leaves out what cannot be bought now (inactive, sold out) and what the page excludes;
    stock is checked for the whole page in one query on ids."""

    name = "filters"

    def apply(self, page: PageFill) -> None:
        ids = {candidate.product_id for fill in page.slots for candidate in fill.candidates}
        if not ids:
            return
        sellable, excluded = products_sellable_ids(ids=ids), page.excluded
        for fill in page.slots:
            kept = [c for c in fill.candidates if c.product_id in sellable and c.product_id not in excluded]
            if len(kept) < len(fill.candidates):
                fill.note(self, f"left out {len(fill.candidates) - len(kept)} sold out, inactive or excluded")
            fill.candidates = kept


class Diversity(Stage):
    """Maximal marginal relevance over categories among the leading algorithm's candidates: each
    pick trades relevance for a category not shown yet, so a slot does not fill with eight
    near-identical mugs."""

    name = "diversity"

    def apply(self, page: PageFill) -> None:
        for fill in page.slots:
            diversity = fill.settings.diversity
            lead = [c for c in fill.candidates if c.algorithm == fill.leader]
            if diversity <= 0 or len(lead) < 2 or any(c.category is None for c in lead):
                continue
            ordered = mmr(lead, diversity=diversity)
            if ordered != lead:
                moved = sum(1 for before, after in zip(lead, ordered, strict=True) if before is not after)
                fill.note(self, f"moved {moved} of {len(lead)} to spread categories (diversity {diversity:g})")
            # The lead's places stay where they were: a stage before may have put others first.
            reordered = iter(ordered)
            fill.candidates = [next(reordered) if c.algorithm == fill.leader else c for c in fill.candidates]


def mmr(candidates: list[Candidate], *, diversity: float) -> list[Candidate]:
    """The candidates in maximal-marginal-relevance order: each pick is the one with the most
    (1 - diversity) x relevance - diversity x its category's penalty (which grows with the
    picks already made from that category), the earliest of equals.

    The penalty depends on the category alone, so each category's best candidate is its most
    relevant remaining one: a pick compares one head per category, not the whole pool (the
    pool's every key at every pick cost 0.1 ms of a product page's shelf).
    """
    top = max(candidate.score for candidate in candidates) or 1.0
    queues: dict[int | None, list[tuple[float, int]]] = {}
    for position, candidate in enumerate(candidates):
        queues.setdefault(candidate.category, []).append(((1 - diversity) * candidate.score / top, position))
    for queue in queues.values():
        # Best last, so a pick pops it: most relevant first, then the earliest position.
        queue.sort(key=lambda entry: (entry[0], -entry[1]))
    shown: dict[int | None, int] = {}
    # Each category's head as (key, -position): the largest is the pick, the earliest of equals.
    heads = {category: (queue[-1][0], -queue[-1][1]) for category, queue in queues.items()}
    chosen: list[Candidate] = []
    while heads:
        category = max(heads, key=heads.__getitem__)
        chosen.append(candidates[-heads[category][1]])
        queue = queues[category]
        queue.pop()
        if not queue:
            del heads[category]
            continue
        shown[category] = shown.get(category, 0) + 1
        relevance, position = queue[-1]
        heads[category] = (relevance - diversity * min(1.0, shown[category] / 2), -position)
    return chosen


class Fallback(Stage):
    """Cuts each slot to its size without repeating a product an earlier slot of the page
    shows, and fills a short slot (no model yet, too much sold out) with the newest products."""

    name = "fallback"

    def apply(self, page: PageFill) -> None:
        seen = page.excluded
        for fill in page.slots:
            size = fill.settings.size
            fresh, here = [], set(seen)
            for candidate in fill.candidates:
                if candidate.product_id not in here:  # the first stage to propose a product keeps it
                    fresh.append(candidate)
                    here.add(candidate.product_id)
            fill.shown, rest = fresh[:size], fresh[size:]
            seen.update(c.product_id for c in fill.shown)
            if len(fill.shown) < size and fill.slot.fill_short:
                newest = products_newest_ids(exclude=seen, limit=size - len(fill.shown))
                fill.shown += [Candidate(product_id=pid, algorithm=NEWEST) for pid in newest]
                seen.update(newest)
                if newest:
                    fill.note(self, f"{len(newest)} newest products filled a short shelf")
            # Exploration draws from beyond the next shelf-full: far enough down to be the long tail.
            fill.tail = rest[size:]


class Exploration(Stage):
    """Epsilon-greedy: now and then one late position shows a long-tail product instead, so new
    products get seen and the models learn about them."""

    name = "exploration"

    def apply(self, page: PageFill) -> None:
        shown = {c.product_id for fill in page.slots for c in fill.shown}
        for fill in page.slots:
            tail = [c for c in fill.tail if c.product_id not in shown]
            if not fill.shown or not tail or page.rng.random() >= fill.settings.epsilon:
                continue
            position = page.rng.randrange(len(fill.shown) // 2, len(fill.shown))
            pick = page.rng.choice(tail)
            fill.shown[position] = Candidate(product_id=pick.product_id, algorithm=EXPLORE)
            shown.add(pick.product_id)
            fill.note(self, f"position {position + 1} shows a long-tail product")


class Titles(Stage):
    """Says what a shelf is: one meant for the visitor's taste that nothing the visitor did could
    steer (no views, cart or purchases) is titled for what fills it, "Popular now", rather than
    "Recommended for you"."""

    name = "titles"

    def apply(self, page: PageFill) -> None:
        if page.state is None or page.taste().history:
            return
        for fill in page.slots:
            if fill.slot.cold_title and fill.shown:
                fill.title = fill.slot.cold_title
                fill.note(self, f"no history to steer it: titled {fill.title!r}")
