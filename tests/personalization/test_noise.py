"""Standard errors and paired differences: known values, and by simulation what they promise."""

import numpy as np
import pytest

from personalization.evaluation.noise import paired_difference, standard_error


def test_the_standard_error_of_a_mean_matches_the_formula():
    assert standard_error(np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(np.sqrt(5 / 3) / 2)
    assert standard_error(np.array([0.7])) == 0.0


def test_a_paired_difference_is_the_mean_gap_with_the_error_of_the_gaps():
    ours, theirs = np.array([0.5, 0.2, 0.9, 0.0]), np.array([0.4, 0.2, 0.6, 0.1])
    difference = paired_difference(ours, theirs)
    assert difference.mean == pytest.approx(0.075)
    assert difference.se == pytest.approx(standard_error(np.array([0.1, 0.0, 0.3, -0.1])))
    with pytest.raises(ValueError, match="same users"):
        paired_difference(ours, theirs[:3])


def test_by_simulation_two_equal_models_are_called_a_tie_about_ninety_five_times_in_a_hundred():
    rng = np.random.default_rng(11)
    ties = 0
    for _ in range(2000):
        # The same users' difficulty drives both; each model adds its own noise.
        difficulty = rng.uniform(0, 1, size=400)
        ours = np.clip(difficulty + rng.normal(0, 0.2, 400), 0, 1)
        theirs = np.clip(difficulty + rng.normal(0, 0.2, 400), 0, 1)
        ties += paired_difference(ours, theirs).within_noise
    assert 0.93 < ties / 2000 < 0.97


def test_by_simulation_a_real_gap_that_the_unpaired_errors_hide_is_seen():
    rng = np.random.default_rng(12)
    difficulty = rng.uniform(0, 1, size=2000)
    theirs = np.clip(difficulty + rng.normal(0, 0.1, 2000), 0, 1)
    ours = np.clip(theirs + 0.01 + rng.normal(0, 0.05, 2000), 0, 1)
    difference = paired_difference(ours, theirs)
    assert not difference.within_noise
    # Unpaired, the two figures' errors overlap: the pairing is what tells them apart.
    assert abs(ours.mean() - theirs.mean()) < 2 * np.hypot(standard_error(ours), standard_error(theirs))
