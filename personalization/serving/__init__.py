"""What a page shows: its slots filled at request time by an ordered list of stages.

One Redis round trip reads the profile, the serving model versions and the slot settings
(state.py); then the stages of PERSONALIZATION_SLOT_STAGES run in order over all the page's
slots (stages.py): candidates from the models, filters, diversity, fallback, exploration.
Models are read-only snapshots held per process and reloaded when their version changes.
"""

import copy
import dataclasses
import logging
import random
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.module_loading import import_string
from redis.exceptions import RedisError

from shop.catalog.selectors import products_for_cards

from ..models import SlotConfig
from ..profiles import Profile, profile_owner
from ..slots import SLOTS_BY_NAME, page_slot_names
from .stages import NEWEST, PageFill, SlotFill, Stage, TraceStep
from .state import ServingState, slot_configs_ensure, slots_publish, state_read

if TYPE_CHECKING:
    from shop.catalog.models import Product

__all__ = ["Preview", "SlotBlock", "page_blocks", "page_fill", "slot_configs_ensure", "slots_publish"]

logger = logging.getLogger(__name__)


@dataclass
class SlotBlock:
    """A filled slot as a template shows it; trace says which stage did what, for staff."""

    slot: str
    title: str
    algorithm: str
    products: list["Product"] = field(default_factory=list)
    trace: list[TraceStep] = field(default_factory=list)


@dataclass(frozen=True)
class Preview:
    """Who staff view the shop as: segments they are in, a device, products viewed, a cart.
    Each left empty keeps the staff member's own."""

    segments: frozenset[str] | None = None
    device: str = ""
    recent: tuple[int, ...] = ()
    cart: tuple[tuple[int, int], ...] = ()

    def as_json(self) -> dict:
        return {
            "segments": sorted(self.segments) if self.segments is not None else None,
            "device": self.device,
            "recent": list(self.recent),
            "cart": [list(line) for line in self.cart],
        }

    @classmethod
    def from_json(cls, raw) -> "Preview | None":
        """A preview kept in a session, or None for none (or one this code cannot read)."""
        if not isinstance(raw, dict):
            return None
        try:
            segments = raw.get("segments")
            return cls(
                segments=frozenset(str(slug) for slug in segments) if segments is not None else None,
                device=str(raw.get("device") or ""),
                recent=tuple(int(pid) for pid in raw.get("recent") or ()),
                cart=tuple((int(pid), int(quantity)) for pid, quantity in raw.get("cart") or ()),
            )
        except (TypeError, ValueError):
            return None

    def describe(self) -> str:
        parts = []
        if self.segments is not None:
            parts.append("a member of " + (", ".join(sorted(self.segments)) or "no segment"))
        if self.device:
            parts.append(f"on a {self.device}")
        if self.recent:
            parts.append(f"having viewed {len(self.recent)} product{'s' if len(self.recent) != 1 else ''}")
        if self.cart:
            parts.append(f"with {sum(q for _, q in self.cart)} in the cart")
        return ", ".join(parts) or "yourself"

    def applied(self, state: ServingState, *, owner: str | None) -> ServingState:
        profile = state.profile or Profile(owner=owner or "preview")
        if self.recent:
            profile = dataclasses.replace(profile, recent=list(self.recent))
        if self.cart:
            profile = dataclasses.replace(profile, cart=dict(self.cart))
        segments = self.segments if self.segments is not None else state.segments
        return dataclasses.replace(state, profile=profile, segments=segments)


@lru_cache(maxsize=8)
def _stages(paths: tuple[str, ...]) -> tuple[Stage, ...]:
    return tuple(import_string(path)() for path in paths)


def page_fill(
    *,
    page: str,
    user_id: int | None,
    visitor_id,
    page_products: list[int] = (),
    rng=None,
    category_id: int | None = None,
    search_term: str | None = None,
    device: str = "desktop",
    preview: Preview | None = None,
) -> PageFill | None:
    """The page's slots after every stage ran, with the state they read (profile, segments, ...);
    None when Redis did not answer. A page without recommendation slots (a category listing)
    still runs the stages: its content slots are filled by them. A preview (staff viewing the
    shop as someone else) stands in for the visitor's segments, device, views and cart."""
    # A shelf of the page's products' companions has nothing to go with on a page without any.
    names = [name for name in page_slot_names(page) if page_products or not SLOTS_BY_NAME[name].needs_page_products]
    state: ServingState | None = None
    if settings.PERSONALIZATION_ENABLED:
        owner = profile_owner(visitor_id=visitor_id, user_id=user_id) if (user_id or visitor_id) else None
        try:
            state = state_read(owner)
        except RedisError:
            logger.warning("personalization unavailable: Redis did not answer")
            return None
        if preview is not None:
            state = preview.applied(state, owner=owner)
            device = preview.device or device
        wanted = [(name, state.settings.get(name)) for name in names]
        fills = [
            SlotFill(slot=SLOTS_BY_NAME[name], settings=value) for name, value in wanted if value and value.is_active
        ]
    else:
        # The same shelves, less those a merchandiser switched off: asked of the database, as
        # personalization off reads no Redis.
        off = set(SlotConfig.objects.filter(slot__in=names, is_active=False).values_list("slot", flat=True))
        fills = [
            SlotFill(slot=SLOTS_BY_NAME[name], settings=SLOTS_BY_NAME[name].off_settings())
            for name in names
            if name not in off and SLOTS_BY_NAME[name].off_title is not None
        ]
    fill = PageFill(
        page=page,
        slots=fills,
        page_products=tuple(page_products),
        state=state,
        rng=rng or random.Random(),
        visitor_id=visitor_id,
        user_id=user_id,
        category_id=category_id,
        search_term=search_term,
        device=device,
    )
    for stage in _stages(tuple(settings.PERSONALIZATION_SLOT_STAGES)):
        stage.apply(fill)
    return fill


def page_blocks(page: PageFill) -> dict[str, SlotBlock]:
    """Only the products that will show are loaded: loading every candidate as a model with its
    images cost ~6 ms a page for 64 of them."""
    shown = {c.product_id for fill in page.slots for c in fill.shown}
    products = products_for_cards(ids=shown | {fill.because for fill in page.slots if fill.because is not None})
    blocks: dict[str, SlotBlock] = {}
    for fill in page.slots:
        title = fill.title or fill.settings.title
        if fill.because is not None:
            because = products.get(fill.because)
            if because is None:
                continue  # deleted since it was viewed: a title naming it cannot be written
            title = title.replace("{product}", because.title)
        shelf = []
        for position, candidate in enumerate(fill.shown, start=1):
            product = products.get(candidate.product_id)
            if product is None:
                continue  # deleted since a stage chose it
            product = copy.copy(product)  # the loaded one may be shared with other pages (kept per process)
            product.rec_slot, product.rec_position, product.rec_algorithm = (
                fill.slot.name,
                position,
                candidate.algorithm,
            )
            shelf.append(product)
        if shelf:
            algorithm = fill.leader or (fill.settings.algorithm if page.state is not None else NEWEST)
            blocks[fill.slot.name] = SlotBlock(
                slot=fill.slot.name, title=title, algorithm=algorithm, products=shelf, trace=fill.trace
            )
    return blocks
