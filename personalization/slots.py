"""The one table of page slots: the page each shows on, its name in admin, and how it starts."""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Self

from .recommenders.hybrid import DEFAULT_WEIGHTS


@dataclass(frozen=True)
class SlotSettings:
    """How a slot fills itself, as a merchandiser sets it in admin and pages read it from Redis."""

    title: str
    algorithm: str
    size: int = 8
    # Used when the algorithm is "hybrid": the weight of each part (see recommenders/hybrid.py).
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    # MMR trade-off: 0 ranks by relevance only, 1 spreads across categories most.
    diversity: float = 0.3
    # Chance that one late position shows a long-tail product instead, so new products get seen.
    epsilon: float = 0.1
    is_active: bool = True

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "algorithm": self.algorithm,
            "size": self.size,
            "weights": dict(self.weights),
            "diversity": self.diversity,
            "epsilon": self.epsilon,
            "is_active": self.is_active,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Self:
        return cls(
            title=str(raw["title"]),
            algorithm=str(raw["algorithm"]),
            size=int(raw["size"]),
            weights={str(part): float(weight) for part, weight in dict(raw.get("weights") or {}).items()},
            diversity=float(raw["diversity"]),
            epsilon=float(raw["epsilon"]),
            is_active=bool(raw.get("is_active", True)),
        )


@dataclass(frozen=True)
class Slot:
    """One place on a page that shows products chosen for the visitor."""

    name: str
    page: str
    label: str
    defaults: SlotSettings
    # What the shelf says when personalization is off and it shows the newest products; None: a
    # shelf that is about the visitor alone, not shown then.
    off_title: str | None
    # What the shelf says when nothing the visitor did steers it (a new visitor: no views, cart or
    # purchases), so a shelf of what is popular is not called "Recommended for you".
    cold_title: str | None = None
    # Built from the product the visitor viewed last, alone: its title may name it with {product}
    # ("Because you viewed {product}"), and without a viewed product the shelf is not shown.
    from_last_viewed: bool = False
    # A shelf of the page's own products' companions (the cart's lines): no products, no shelf.
    needs_page_products: bool = False
    # False: the shelf shows only what its own algorithm proposes, never the fallbacks' popular
    # or newest products (a "recently viewed" shelf of things never viewed would be untrue).
    fill_short: bool = True

    def off_settings(self) -> SlotSettings:
        return replace(self.defaults, title=self.off_title, epsilon=0.0)


# The profile's recently viewed products, newest first: no model, no trained version needed.
RECENT = "recent"

# A page's slots in the order a product claims its place: a product an earlier slot shows is not
# repeated by a later one, so what was just viewed is not pushed back at once as a recommendation.
SLOTS: tuple[Slot, ...] = (
    Slot(
        name="home_recent",
        page="home",
        label="Home: Recently viewed",
        defaults=SlotSettings(title="Recently viewed", algorithm=RECENT, diversity=0.0, epsilon=0.0),
        off_title=None,
        fill_short=False,
    ),
    Slot(
        name="home_because_viewed",
        page="home",
        label="Home: Because you viewed",
        defaults=SlotSettings(
            title="Because you viewed {product}", algorithm="itemknn", size=4, diversity=0.0, epsilon=0.0
        ),
        off_title=None,
        from_last_viewed=True,
        fill_short=False,
    ),
    Slot(
        name="home_recommended",
        page="home",
        label="Home: Recommended for you",
        defaults=SlotSettings(title="Recommended for you", algorithm="hybrid", diversity=0.3, epsilon=0.1),
        off_title="New in",
        cold_title="Popular now",
    ),
    Slot(
        name="home_trending",
        page="home",
        label="Home: Trending",
        defaults=SlotSettings(title="Trending now", algorithm="trending", diversity=0.3, epsilon=0.0),
        off_title="More new arrivals",
    ),
    Slot(
        name="product_also_bought",
        page="product",
        label="Product: Customers also bought",
        defaults=SlotSettings(title="Customers also bought", algorithm="itemknn", diversity=0.2, epsilon=0.1),
        off_title="New in",
    ),
    Slot(
        name="product_similar",
        page="product",
        label="Product: Similar items",
        defaults=SlotSettings(title="Similar items", algorithm="content", diversity=0.0, epsilon=0.0),
        off_title="More new arrivals",
    ),
    Slot(
        name="cart_complete",
        page="cart",
        label="Cart: Complete your order",
        defaults=SlotSettings(title="Complete your order", algorithm="itemknn", size=4, diversity=0.3, epsilon=0.0),
        off_title="New in",
        needs_page_products=True,
    ),
)
SLOTS_BY_NAME: dict[str, Slot] = {slot.name: slot for slot in SLOTS}
SLOT_CHOICES = [(slot.name, slot.label) for slot in SLOTS]


def page_slot_names(page: str) -> tuple[str, ...]:
    """The slots of a page, in the order it shows them."""
    return tuple(slot.name for slot in SLOTS if slot.page == page)
