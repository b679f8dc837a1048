"""Clusters as segments: a re-cluster reads the record, fits (segments/clusters.py), keeps the run
as a Clustering and makes each cluster a segment whose members are the cluster's shoppers.

A cluster segment is a Segment row with no definition: the live evaluation and the backfill
never judge it, but its members sit in the same Membership record and the same Redis sets, so
render-time checks, rules, blocks and experiments read it as they read any segment. Each
re-cluster matches its clusters to the segments of the last one by the shoppers they share
(a group that stays keeps its segment and slug, so rules naming it keep working) and records
who entered and who left.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from django.db import transaction
from django.utils import timezone
from scipy.optimize import linear_sum_assignment

from shop.keyspace import redis_client, segment_members_key
from tracking.importers import FORMATS, default_path

from .clusters import KS, LOGGED, clusters_fit, events_frame, features_from_events
from .models import Clustering, Membership, Segment
from .record import memberships_write, rows_of
from .services import (
    BACKFILL_CHUNK,
    OWNERS_PER_ROUND_TRIP,
    cluster_sets_queue,
    record_events,
)

RECORD = "record"
SLUG = "cluster-{number}"
# Fewer shoppers than this make clusters of a handful each, which no merchandiser should act on.
MIN_OWNERS = 20


class ClusteringError(ValueError):
    """The record cannot be clustered as asked; the message says why."""


@dataclass
class Recluster:
    clustering: Clustering
    entered: int
    exited: int


def cluster_events(*, dataset: str = RECORD, path: Path | None = None) -> pd.DataFrame:
    """The events features_from_events reads: this shop's record, or a dataset file read by its
    importer (its own cleaning rules), from the shared datasets unless a path is given."""
    if dataset == RECORD:
        rows = record_events().values_list(
            "owner", "occurred_at", "name", "session_id", "product_id", "category_id", "properties"
        )
        return events_frame(rows.iterator(chunk_size=BACKFILL_CHUNK))
    if dataset not in FORMATS:
        raise ClusteringError(f"no dataset {dataset!r}; use {RECORD} or one of {', '.join(FORMATS)}")
    frames = []
    for chunk in FORMATS[dataset].read(path=path or default_path(dataset), limit=None, chunk_rows=200_000):
        events = chunk.events
        properties = events["properties"]
        # Purchases of a dataset carry their order as transaction_id: that is the visit.
        sessions = [props.get("transaction_id") if isinstance(props, dict) else None for props in properties]
        frames.append(
            events_frame(
                zip(
                    events["visitor_id"].astype(str),
                    events["client_ts"],
                    events["name"],
                    sessions,
                    [None] * len(events),
                    [None] * len(events),
                    properties,
                    strict=True,
                )
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else events_frame([])


def features_means(features: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """Each cluster's average shopper in the features' own units (the logged ones undone)."""
    plain = features.copy()
    for column in LOGGED:
        plain[column] = np.expm1(plain[column])
    return plain.groupby(labels).mean()


def _matched(new: dict[int, set[str]], old: dict[int, set[str]]) -> dict[int, int]:
    """New cluster label -> old segment id, pairing them to keep the most shoppers where they were."""
    if not new or not old:
        return {}
    labels, segments = sorted(new), sorted(old)
    shared = np.array([[len(new[label] & old[segment]) for segment in segments] for label in labels])
    rows, columns = linear_sum_assignment(-shared)
    return {labels[row]: segments[column] for row, column in zip(rows, columns, strict=True) if shared[row, column]}


def _names_unique(names: dict[int, str]) -> dict[int, str]:
    seen: dict[str, int] = {}
    unique = {}
    for label in sorted(names):
        name = names[label].capitalize()
        seen[name] = seen.get(name, 0) + 1
        unique[label] = name if seen[name] == 1 else f"{name} ({seen[name]})"
    return unique


def clusters_recluster(
    *,
    method: str = Clustering.Method.KMEANS,
    k: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> Recluster:
    """Cluster the shoppers of the record and make the clusters the cluster segments' members."""
    if method not in Clustering.Method.values:
        raise ClusteringError(f"method is one of {', '.join(Clustering.Method.values)}")
    if k is not None and not KS.start <= k < KS.stop:
        raise ClusteringError(f"k is from {KS.start} to {KS.stop - 1}")
    say = progress or (lambda message: None)
    started = time.monotonic()
    say("reading the record")
    events = cluster_events()
    owners = events["owner"].nunique()
    if owners < MIN_OWNERS:
        raise ClusteringError(f"{owners} shoppers in the record; clusters need at least {MIN_OWNERS}")
    say(f"features of {owners} shoppers from {len(events)} events")
    features = features_from_events(events, now=pd.Timestamp(timezone.now()))
    say(f"fitting {method}" + (f" with k={k}" if k else f", k from {KS.start} to {KS.stop - 1} by silhouette"))
    try:
        fit = clusters_fit(features, method=method, ks=[k] if k else KS)
    except ValueError as error:
        raise ClusteringError(str(error)) from error
    means = features_means(features, fit.labels)
    members = {int(label): set(features.index[fit.labels == label]) for label in np.unique(fit.labels) if label >= 0}
    say(f"{fit.k} clusters, silhouette {fit.silhouette:.3f}; recording memberships")
    with transaction.atomic():
        result = _segments_replace(fit=fit, members=members, means=means, method=method, owners=owners)
        result.clustering.seconds = time.monotonic() - started
        result.clustering.save(update_fields=["seconds"])
    say(f"publishing {result.entered} entries and {result.exited} exits")
    _publish()
    return result


def _segments_replace(*, fit, members: dict[int, set[str]], means: pd.DataFrame, method: str, owners: int):
    """The run's row, a segment per cluster (the last run's where they share shoppers), and the
    entries and exits that take the segments from the last run's members to this run's."""
    current = Segment.objects.select_for_update().filter(cluster__isnull=False, is_active=True)
    before: dict[int, set[str]] = {segment.pk: set() for segment in current}
    rows = Membership.objects.filter(segment_id__in=before, exited_at__isnull=True)
    for segment_id, owner in rows.values_list("segment_id", "owner").iterator(chunk_size=BACKFILL_CHUNK):
        before[segment_id].add(owner)
    pairs = _matched(members, before)
    names = _names_unique(fit.names)
    clustering = Clustering.objects.create(method=method, k=fit.k, silhouette=fit.silhouette, owners=owners)
    taken = set(Segment.objects.filter(slug__startswith="cluster-").values_list("slug", flat=True))
    number, segments = 1, {}
    for label in sorted(members):
        segment = Segment.objects.filter(pk=pairs[label]).first() if label in pairs else None
        if segment is None:
            while SLUG.format(number=number) in taken:
                number += 1
            segment = Segment(slug=SLUG.format(number=number), definition={})
            taken.add(segment.slug)
        segment.name = names[label]
        segment.description = f"Cluster {label} of {clustering}: {len(members[label])} shoppers."
        segment.cluster, segment.clustering, segment.is_active = label, clustering, True
        # What the admin shows as "last evaluated": for a cluster, when its members were written.
        segment.last_evaluated_at, segment.last_error = timezone.now(), ""
        segment.save()
        segments[label] = segment
    gone = [segment_id for segment_id in before if segment_id not in pairs.values()]
    Segment.objects.filter(pk__in=gone).update(is_active=False)
    slugs = {segment.pk: segment.slug for segment in current} | {s.pk: s.slug for s in segments.values()}
    changes: list[tuple[str, str, bool]] = []
    for label, segment in segments.items():
        held = before.get(segment.pk, set())
        changes += [(owner, segment.slug, True) for owner in sorted(members[label] - held)]
        changes += [(owner, segment.slug, False) for owner in sorted(held - members[label])]
    for segment_id in gone:
        changes += [(owner, slugs[segment_id], False) for owner in sorted(before[segment_id])]
    # Cluster segments are never journaled (the live path judges rule segments only): no drain first.
    memberships_write(rows_of(changes, at=timezone.now(), segments={slug: pk for pk, slug in slugs.items()}))
    clustering.features = list(means.columns)
    clustering.clusters = [
        {
            "label": label,
            "name": names[label],
            "segment": segments[label].slug,
            "size": len(members[label]),
            "means": {feature: round(float(value), 4) for feature, value in means.loc[label].items()},
        }
        for label in sorted(members)
    ]
    clustering.save(update_fields=["features", "clusters"])
    entered = sum(1 for change in changes if change[2])
    return Recluster(clustering=clustering, entered=entered, exited=len(changes) - entered)


def _publish() -> None:
    """Make Redis agree with the record for every shopper a cluster segment holds or held: their
    own set given their clusters and rid of the others, each cluster's members set likewise."""
    client = redis_client()
    slugs = set(Segment.objects.filter(cluster__isnull=False).values_list("slug", flat=True))
    inside: dict[str, set[str]] = {}
    rows = Membership.objects.filter(segment__cluster__isnull=False, exited_at__isnull=True)
    for owner, slug in rows.values_list("owner", "segment__slug").iterator(chunk_size=BACKFILL_CHUNK):
        inside.setdefault(owner, set()).add(slug)
    owners = set(inside)
    for slug in slugs:
        owners |= {owner.decode() for owner in client.smembers(segment_members_key(slug))}
    ordered = sorted(owners)
    for start in range(0, len(ordered), OWNERS_PER_ROUND_TRIP):
        pipe = client.pipeline(transaction=False)
        for owner in ordered[start : start + OWNERS_PER_ROUND_TRIP]:
            held = inside.get(owner, set())
            cluster_sets_queue(pipe, owner=owner, entered=held, exited=slugs - held)
        pipe.execute()
