"""Clusters nobody defined: K-Means (or DBSCAN, hierarchical) over standardized behaviour features,
k chosen by silhouette, each cluster named in words from its centroid."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import DBSCAN, AgglomerativeClustering, KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

from tracking.registry import EventName

# What each feature is called in a cluster's name, when its centroid is high and when low.
WORDS = {
    "recency_days": ("lapsed", "recent"),
    "orders": ("frequent buyers", "non-buyers"),
    "spend": ("high spenders", "low spenders"),
    "sessions": ("regular visitors", "one-visit"),
    "depth": ("deep browsers", "quick visits"),
    "searches": ("searchers", "browsers by category"),
    "cart_rate": ("cart fillers", "window shoppers"),
    "price_level": ("premium tastes", "discount seekers"),
    "focus": ("loyal to one category", "explorers"),
    "mobile": ("on mobile", "on desktop"),
}
FEATURES = list(WORDS)
KS = range(2, 9)
# Silhouette on more rows costs O(n^2); a sample this size moved the chosen k by none in trials.
SILHOUETTE_SAMPLE = 5000
SEED = 7


def features_from_events(events: pd.DataFrame, *, now: pd.Timestamp) -> pd.DataFrame:
    """One row per owner from (owner, at, name, session, category, value, price, device) events."""
    grouped = events.groupby("owner")
    views = events[events["name"] == EventName.VIEW_ITEM]
    purchases = events[events["name"] == EventName.PURCHASE]
    frame = pd.DataFrame(index=grouped.size().index)
    frame["recency_days"] = (now - grouped["at"].max()).dt.total_seconds() / 86400
    frame["orders"] = purchases.groupby("owner").size()
    frame["spend"] = purchases.groupby("owner")["value"].sum()
    frame["sessions"] = grouped["session"].nunique()
    frame["depth"] = grouped.size() / frame["sessions"].clip(lower=1)
    frame["searches"] = events[events["name"] == EventName.SEARCH].groupby("owner").size()
    view_count = views.groupby("owner").size()
    frame["cart_rate"] = events[events["name"] == EventName.ADD_TO_CART].groupby("owner").size() / view_count
    median = views["price"].median() if len(views) else 1.0
    frame["price_level"] = (views["price"] / median).groupby(views["owner"]).median()
    top = views.groupby(["owner", "category"]).size().groupby("owner").max()
    frame["focus"] = top / view_count
    frame["mobile"] = (events["device"] == "mobile").groupby(events["owner"]).mean()
    frame = frame.fillna(0.0)
    for column in ("orders", "spend", "sessions", "depth", "searches", "recency_days"):
        frame[column] = np.log1p(frame[column])
    return frame[FEATURES]


@dataclass
class Clustering:
    labels: np.ndarray
    k: int
    silhouette: float
    names: dict[int, str]
    centroids: pd.DataFrame  # standardized


def _name(centroid: pd.Series) -> str:
    """What the cluster does most above the average first (a merchandiser's first word), then
    its next strongest difference either way."""
    first = centroid.idxmax() if centroid.max() > 0 else centroid.abs().idxmax()
    rest = centroid.drop(first)
    second = rest.abs().idxmax()
    return ", ".join(WORDS[feature][0 if centroid[feature] > 0 else 1] for feature in (first, second))


def clusters_fit(features: pd.DataFrame, *, method: str = "kmeans", ks=KS) -> Clustering:
    """Clusters of the owners; with kmeans, the k of the best silhouette."""
    scaled = StandardScaler().fit_transform(features.to_numpy())
    rng = np.random.default_rng(SEED)
    sample = rng.choice(len(scaled), size=min(len(scaled), SILHOUETTE_SAMPLE), replace=False)
    best = None
    if method == "dbscan":
        candidates = [DBSCAN(eps=1.5, min_samples=10).fit_predict(scaled)]
    elif method == "hierarchical":
        candidates = [AgglomerativeClustering(n_clusters=k).fit_predict(scaled) for k in ks]
    else:
        candidates = [KMeans(n_clusters=k, n_init=10, random_state=SEED).fit_predict(scaled) for k in ks]
    for labels in candidates:
        if len(set(labels[sample])) < 2:
            continue
        score = float(silhouette_score(scaled[sample], labels[sample]))
        if best is None or score > best[1]:
            best = (labels, score)
    if best is None:
        raise ValueError("the owners do not split into clusters")
    labels, score = best
    centroids = pd.DataFrame(scaled, columns=FEATURES).groupby(labels).mean()
    names = {int(label): _name(row) for label, row in centroids.iterrows()}
    return Clustering(labels=labels, k=len(names), silhouette=score, names=names, centroids=centroids)
