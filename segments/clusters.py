"""Clusters nobody defined: K-Means (or DBSCAN, hierarchical) over standardized behaviour features,
k chosen by silhouette, each cluster named in words from its centroid."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import DBSCAN, AgglomerativeClustering, KMeans
from sklearn.metrics import silhouette_score
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from tracking.registry import EventName

# What each feature is called in a cluster's name, when its centroid is high and when low.
WORDS = {
    "recency_days": ("lapsed", "recent"),
    "orders": ("frequent buyers", "rare buyers"),
    "spend": ("high spenders", "low spenders"),
    "sessions": ("regular visitors", "one-visit"),
    "depth": ("deep browsers", "quick visits"),
    "searches": ("searchers", "browsers by category"),
    "cart_rate": ("cart fillers", "window shoppers"),
    "removals": ("cart editors", "cart keepers"),
    "wishlist_rate": ("wishlisters", "no wishlist"),
    "repeat_share": ("repeat buyers", "new-product buyers"),
    "scroll": ("long scrollers", "top-of-page lookers"),
    "price_level": ("premium tastes", "discount seekers"),
    "price_sort": ("sort by price", "sort by relevance"),
    "focus": ("loyal to one category", "explorers"),
    "brand_focus": ("brand loyal", "brand-indifferent"),
    "mobile": ("on mobile", "on desktop"),
}
FEATURES = list(WORDS)
# Features summed over a life of visits grow with its length: their logarithm keeps a handful
# of very long histories from being the only thing the scaler sees.
LOGGED = ("orders", "spend", "sessions", "depth", "searches", "recency_days")
KS = range(2, 9)
# Silhouette on more rows costs O(n^2); a sample this size moved the chosen k by none in trials.
SILHOUETTE_SAMPLE = 5000
SEED = 7
# How many chances a shopper's rates are drawn towards everyone's by (_share): on the simulator's
# personas, 0 let silhouette choose k=3 (adjusted Rand index 0.38 against the personas), 2 to 20
# gave k=6 or 7 and 0.91 to 0.96; 5 was best on 600 shoppers and on samples of 60 to 240.
PRIOR_WEIGHT = 5.0
# Owners Ward's clustering merges at most: 10,000 hold 400 MB of distances, a minute on 2 cores.
HIERARCHICAL_MAX = 10_000
# DBSCAN's neighbours for a core point (fewer on small runs), and the radii it tries.
DBSCAN_MIN_SAMPLES = 10
DBSCAN_QUANTILES = (0.3, 0.5, 0.7, 0.9)
# The columns features_from_events reads; events_frame builds them from stored events.
COLUMNS = [
    "owner",
    "at",
    "name",
    "session",
    "product",
    "category",
    "value",
    "price",
    "brand",
    "device",
    "page",
    "percent",
    "items",
]
MOBILE = ("phone", "tablet")


def events_frame(rows) -> pd.DataFrame:
    """The feature columns from (owner, at, name, session, product, category, properties) rows, the
    shape of a stored event: price and brand of the first item, the ids of all (an order has
    several), the page's address, scroll percent."""
    records = []
    for owner, at, name, session, product, category, properties in rows:
        properties = properties or {}
        items = properties.get("items") or [{}]
        item = items[0] if isinstance(items[0], dict) else {}
        records.append(
            (
                owner,
                at,
                name,
                None if session is None else str(session),
                product,
                category,
                _number(properties.get("value")),
                _number(item.get("price")),
                item.get("item_brand"),
                properties.get("device"),
                properties.get("page_location"),
                _number(properties.get("percent")),
                tuple(str(entry.get("item_id")) for entry in items if isinstance(entry, dict) and entry.get("item_id")),
            )
        )
    frame = pd.DataFrame.from_records(records, columns=COLUMNS)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return np.nan
    return float(value)


def _share(part: pd.Series, whole: pd.Series) -> pd.Series:
    """part / whole per owner, drawn towards everyone's share by PRIOR_WEIGHT imagined chances:
    one cart add out of one view is not a 100% cart rate, and a shopper seen twice must not
    stand as far out as one seen a hundred times."""
    part = part.reindex(whole.index).fillna(0)
    overall = part.sum() / whole.sum() if whole.sum() else 0.0
    return (part + PRIOR_WEIGHT * overall) / (whole + PRIOR_WEIGHT)


def features_from_events(events: pd.DataFrame, *, now: pd.Timestamp) -> pd.DataFrame:
    """One row per owner from the events frame (COLUMNS): what they do, never who they were said to be.

    Rates are per opportunity (cart adds per product viewed, removals per cart add, repeat
    purchases per item bought) so that a shopper seen for one visit and one seen for ten who
    behave alike land together.
    """
    grouped = events.groupby("owner")
    owners = grouped.size().index
    by_name = {name: part for name, part in events.groupby("name")}
    empty = events.iloc[0:0]

    def count(name: str) -> pd.Series:
        return by_name.get(name, empty).groupby("owner").size().reindex(owners).fillna(0)

    views = by_name.get(EventName.VIEW_ITEM, empty)
    purchases = by_name.get(EventName.PURCHASE, empty)
    view_count = count(EventName.VIEW_ITEM)
    adds = count(EventName.ADD_TO_CART)
    frame = pd.DataFrame(index=owners)
    frame["recency_days"] = (now - grouped["at"].max()).dt.total_seconds() / 86400
    # An order is a purchase's session when the events carry one, otherwise each purchase event.
    frame["orders"] = (
        purchases.assign(order=purchases["session"].fillna(purchases["at"].astype(str)))
        .groupby("owner")["order"]
        .nunique()
    )
    frame["spend"] = purchases.groupby("owner")["value"].sum()
    sessions = grouped["session"].nunique().clip(lower=1)
    frame["sessions"] = sessions
    frame["depth"] = grouped.size() / sessions
    frame["searches"] = count(EventName.SEARCH) / sessions
    frame["cart_rate"] = _share(adds, view_count)
    frame["removals"] = _share(count(EventName.REMOVE_FROM_CART), adds)
    frame["wishlist_rate"] = _share(count(EventName.ADD_TO_WISHLIST), view_count)
    bought = purchases.sort_values("at")[["owner", "items"]].explode("items").dropna(subset=["items"])
    again = bought.duplicated(["owner", "items"]).groupby(bought["owner"]).sum()
    frame["repeat_share"] = _share(again, bought.groupby("owner").size().reindex(owners).fillna(0))
    scrolls = by_name.get(EventName.SCROLL, empty)
    frame["scroll"] = scrolls.groupby(["owner", "session"])["percent"].max().groupby("owner").mean() / 100
    priced = views.dropna(subset=["price"])
    median = priced["price"].median() if len(priced) else 1.0
    # Bought prices speak where nothing was viewed (a dataset of purchases only).
    if not len(priced):
        priced = purchases.dropna(subset=["price"])
        median = priced["price"].median() if len(priced) else 1.0
    logs = np.log((priced["price"] / median).clip(lower=0.01)).groupby(priced["owner"])
    # The log of price over the median, averaged with PRIOR_WEIGHT views at the median itself.
    frame["price_level"] = logs.sum().reindex(owners).fillna(0) / (logs.size().reindex(owners).fillna(0) + PRIOR_WEIGHT)
    pages = by_name.get(EventName.PAGE_VIEW, empty)
    listings = pages[pages["page"].fillna("").str.contains(r"^/(?:c|d|search)/|[?&]sort=", regex=True)]
    by_price = listings["page"].str.contains("sort=price", regex=False).groupby(listings["owner"]).sum()
    frame["price_sort"] = _share(by_price, listings.groupby("owner").size().reindex(owners).fillna(0))
    top = views.groupby(["owner", "category"]).size().groupby("owner").max()
    frame["focus"] = _share(top, view_count)
    top_brand = views.dropna(subset=["brand"]).groupby(["owner", "brand"]).size().groupby("owner").max()
    frame["brand_focus"] = _share(top_brand, view_count)
    frame["mobile"] = _share(events["device"].isin(MOBILE).groupby(events["owner"]).sum(), grouped.size())
    frame = frame.fillna(0.0)
    for column in LOGGED:
        frame[column] = np.log1p(frame[column].clip(lower=0))
    return frame[FEATURES]


@dataclass
class ClusterFit:
    labels: np.ndarray  # per owner, in the features' order; -1 is DBSCAN's noise (in no cluster)
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


def _dbscan_candidates(scaled: np.ndarray) -> list[np.ndarray]:
    """DBSCAN at a few radii read off the data (quantiles of each owner's distance to its
    min_samples-th neighbour), so that standardized features of any count get a sensible one."""
    min_samples = max(4, min(DBSCAN_MIN_SAMPLES, len(scaled) // 20))
    distances = NearestNeighbors(n_neighbors=min_samples).fit(scaled).kneighbors(scaled)[0][:, -1]
    radii = sorted({float(np.quantile(distances, q)) for q in DBSCAN_QUANTILES})
    return [DBSCAN(eps=radius, min_samples=min_samples).fit_predict(scaled) for radius in radii if radius > 0]


def _labels_spread(scaled: np.ndarray, fitted: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Labels for every owner: the fitted ones' own, the others' the nearest fitted cluster's centre."""
    if len(fitted) == len(scaled):
        return labels
    centres = np.stack([scaled[fitted][labels == label].mean(axis=0) for label in range(labels.max() + 1)])
    nearest = np.argmin(((scaled[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2), axis=1)
    nearest[fitted] = labels
    return nearest


def clusters_fit(features: pd.DataFrame, *, method: str = "kmeans", ks=KS) -> ClusterFit:
    """Clusters of the owners: of the candidates (each k, or each DBSCAN radius), the one with the
    best silhouette. DBSCAN's noise is in no cluster; a candidate leaving most owners as noise
    is no clustering."""
    scaled = StandardScaler().fit_transform(features.to_numpy())
    rng = np.random.default_rng(SEED)
    sample = rng.choice(len(scaled), size=min(len(scaled), SILHOUETTE_SAMPLE), replace=False)
    best = None
    if method == "dbscan":
        candidates = _dbscan_candidates(scaled)
    elif method == "hierarchical":
        # Ward's merge keeps every distance pair in memory: past HIERARCHICAL_MAX owners it merges
        # a sample, and each owner outside it joins the nearest of the sample's clusters.
        fitted = np.sort(rng.choice(len(scaled), size=min(len(scaled), HIERARCHICAL_MAX), replace=False))
        candidates = [
            _labels_spread(scaled, fitted, AgglomerativeClustering(n_clusters=k).fit_predict(scaled[fitted]))
            for k in ks
            if k < len(fitted)
        ]
    else:
        candidates = [
            KMeans(n_clusters=k, n_init=10, random_state=SEED).fit_predict(scaled) for k in ks if k < len(scaled)
        ]
    for labels in candidates:
        kept = sample[labels[sample] >= 0]
        if len(kept) < len(sample) / 2 or len(set(labels[kept])) < 2:
            continue
        score = float(silhouette_score(scaled[kept], labels[kept]))
        if best is None or score > best[1]:
            best = (labels, score)
    if best is None:
        raise ValueError("the shoppers do not split into clusters")
    labels, score = best
    clustered = labels >= 0
    centroids = pd.DataFrame(scaled[clustered], columns=FEATURES).groupby(labels[clustered]).mean()
    names = {int(label): _name(row) for label, row in centroids.iterrows()}
    return ClusterFit(labels=labels, k=len(names), silhouette=score, names=names, centroids=centroids)
