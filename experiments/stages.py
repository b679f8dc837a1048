"""The slot stages of experiments: a variant's settings before candidates, its exposure after.

ExperimentVariants goes first in PERSONALIZATION_SLOT_STAGES, so the slot's candidates come
from the variant's algorithm or weights; ExperimentExposures goes last, so only what a page
really shows is recorded as seen.
"""

import logging

from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError

from personalization.serving.stages import PageFill, Stage
from shop.keyspace import utc_day

from .assignment import (
    HOLDOUT,
    NEWEST,
    PERSONALIZED,
    SPLIT,
    Assignment,
    assignment_for,
    generic_settings,
    published_read,
)
from .exposures import Shown, exposures_record
from .services import experiments_publish

logger = logging.getLogger(__name__)


ASSIGNMENT = "experiments.assignment"


def page_assignment(page: PageFill) -> Assignment | None:
    """This page's visitor's place in the running experiments; None for a page without a
    visitor (no consent) or without personalization. Worked out once a page: the variants stage
    and the exposures stage both ask."""
    if ASSIGNMENT not in page.shared:
        page.shared[ASSIGNMENT] = _assignment(page)
    return page.shared[ASSIGNMENT]


def _assignment(page: PageFill) -> Assignment | None:
    if page.state is None or page.profile is None:
        return None
    raw = page.state.experiments
    if raw is None:
        # Never published, or Redis was flushed: the database knows; publish for the next page.
        try:
            running = tuple(experiments_publish())
        except RedisError:
            return None
    else:
        running = published_read(raw)
    return assignment_for(
        owner=page.profile.owner,
        experiments=running,
        holdout_percent=settings.EXPERIMENTS_HOLDOUT_PERCENT,
        segments=page.state.segments,
        sticky=page.state.sticky,
        day=utc_day(timezone.now()),
    )


class ExperimentVariants(Stage):
    """Each slot under test takes its variant's settings; a holdout visitor's slots show the
    generic newest products."""

    name = "experiment"

    def apply(self, page: PageFill) -> None:
        assignment = page_assignment(page)
        if assignment is None:
            return
        for fill in page.slots:
            if assignment.holdout:
                fill.settings = generic_settings(fill.settings, algorithm=NEWEST)
                fill.note(self, "global holdout: generic newest products")
            elif (placed := assignment.by_slot.get(fill.slot.name)) is not None:
                variant = placed.variant
                fill.settings = variant.slot_settings(fill.settings)
                how = f", bandit arm at {placed.propensity:.0%}" if placed.policy != SPLIT else ""
                fill.note(self, f"“{placed.experiment.name}”: variant {variant.key} ({variant.describe()}{how})")


class ExperimentExposures(Stage):
    """Records, once a day per visitor and experiment, each variant a slot of this page shows."""

    name = "exposure"

    def apply(self, page: PageFill) -> None:
        if page.visitor_id is None or (assignment := page_assignment(page)) is None:
            return
        shown = {fill.slot.name for fill in page.slots if fill.shown}
        wanted = [
            Shown(str(placed.experiment.id), placed.variant.key, slot, placed.policy, placed.propensity)
            for slot, placed in assignment.by_slot.items()
            if slot in shown
        ]
        if shown and (percent := settings.EXPERIMENTS_HOLDOUT_PERCENT) > 0:
            # The programme's own comparison: the holdout against everyone personalized.
            held = assignment.holdout
            chance = (percent if held else 100 - percent) / 100
            wanted.append(Shown(HOLDOUT, HOLDOUT if held else PERSONALIZED, None, SPLIT, chance))
        wanted = [item for item in wanted if item.mark not in page.state.exposed]
        if wanted:
            exposures_record(visitor_id=page.visitor_id, user_id=page.user_id, shown=wanted)
            for fill in page.slots:
                if any(item.slot == fill.slot.name for item in wanted):
                    fill.note(self, "exposure recorded for today")
