"""Clusters: k by silhouette finds groups planted in the features, and names them from their centroids."""

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from segments import clusters
from segments.clusters import FEATURES, clusters_fit


def test_planted_groups_are_found_and_named_in_words():
    rng = np.random.default_rng(1)
    spenders = rng.normal(0, 0.1, size=(60, len(FEATURES)))
    spenders[:, FEATURES.index("spend")] += 3
    spenders[:, FEATURES.index("orders")] += 3
    browsers = rng.normal(0, 0.1, size=(60, len(FEATURES)))
    browsers[:, FEATURES.index("depth")] += 3
    features = pd.DataFrame(np.vstack([spenders, browsers]), columns=FEATURES)
    result = clusters_fit(features)
    assert result.k == 2
    assert adjusted_rand_score([0] * 60 + [1] * 60, result.labels) == 1.0
    names = sorted(result.names.values())
    assert any("high spenders" in name or "frequent buyers" in name for name in names)
    assert any("deep browsers" in name for name in names)


def test_hierarchical_past_its_limit_merges_a_sample_and_places_everyone_else(monkeypatch):
    monkeypatch.setattr(clusters, "HIERARCHICAL_MAX", 50)
    rng = np.random.default_rng(2)
    groups = []
    for feature in ("spend", "depth", "searches"):
        group = rng.normal(0, 0.1, size=(100, len(FEATURES)))
        group[:, FEATURES.index(feature)] += 3
        groups.append(group)
    features = pd.DataFrame(np.vstack(groups), columns=FEATURES)
    result = clusters_fit(features, method="hierarchical")
    assert result.k == 3
    assert adjusted_rand_score([0] * 100 + [1] * 100 + [2] * 100, result.labels) == 1.0
