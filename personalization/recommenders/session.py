"""Session-based "because you viewed": neighbours of the last few items, the latest counting most."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Context
from .itemknn import ItemKNN, rows_sum
from .registry import register

# How many of the latest items steer the list, and how fast older ones fade: with a
# half-life of one step, the item viewed just before counts half as much as the last one.
SESSION_ITEMS = 5
STEP_HALF_LIFE = 1.0


@register
class SessionNeighbours(ItemKNN):
    """Item-item neighbours of context.recent only, so a click changes the next page at once.

    It shares ItemKNN's neighbour lists and training; what differs is the question: not
    "what fits everything this person did" but "what goes with what they are looking at now".
    """

    name = "session"

    def __init__(self, *, session_items: int = SESSION_ITEMS, step_half_life: float = STEP_HALF_LIFE, **params: Any):
        super().__init__(**params)
        self.session_items = session_items
        self.step_half_life = step_half_life

    def score(self, context: Context) -> np.ndarray:
        assert self.data is not None and self.neighbours_ is not None, "fit() first"
        recent = [item for item in context.recent if 0 <= item < self.data.n_items][: self.session_items]
        if not recent:
            # No session yet: fall back to the person's history as plain item-item would.
            return super().score(context)
        weights = np.exp2(-np.arange(len(recent), dtype=np.float64) / self.step_half_life)
        return rows_sum(self.neighbours_, np.array(recent, dtype=np.int64), weights)
