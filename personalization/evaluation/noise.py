"""How far an evaluation figure can be trusted: standard errors over users and paired differences."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Below this many top-10 hits a figure is noise (EVALUATION.md).
FEW_HITS = 100
# Two algorithms whose paired difference is within this many standard errors are a tie.
TIE_ERRORS = 2.0


def standard_error(values: np.ndarray) -> float:
    """The standard error of a mean over users: sample standard deviation / sqrt(n); 0 below two users."""
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return 0.0
    return float(values.std(ddof=1) / np.sqrt(values.size))


@dataclass(frozen=True)
class Difference:
    """One algorithm's figure minus another's on the same users, with its paired standard error."""

    mean: float
    se: float

    @property
    def within_noise(self) -> bool:
        """Whether the gap is within TIE_ERRORS standard errors (an exact tie included)."""
        return abs(self.mean) <= TIE_ERRORS * self.se


def paired_difference(ours: np.ndarray, theirs: np.ndarray) -> Difference:
    """Mean of the per-user differences and its standard error: far smaller than the two figures'
    own errors combined when, as here, both algorithms find the same easy users easy."""
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    if ours.shape != theirs.shape:
        raise ValueError("a paired difference needs the same users on both sides")
    differences = ours - theirs
    return Difference(mean=float(differences.mean()) if differences.size else 0.0, se=standard_error(differences))
