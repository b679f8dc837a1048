"""Segment definitions and the durable record of who entered and left them."""

from django.core.exceptions import ValidationError
from django.db import models

from .conditions import ConditionError, definition_parse


class Clustering(models.Model):
    """One run of the clustering (segments/clusters.py), kept like a model version: how it was
    made, how well the clusters stand apart, and what each cluster's shoppers do on average.
    The newest run's clusters are the cluster segments' members; older runs stay as history."""

    class Method(models.TextChoices):
        KMEANS = "kmeans", "K-Means"
        DBSCAN = "dbscan", "DBSCAN"
        HIERARCHICAL = "hierarchical", "Hierarchical (Ward)"

    method = models.CharField(max_length=16, choices=Method.choices)
    k = models.PositiveSmallIntegerField(help_text="Clusters found (DBSCAN's noise not counted).")
    silhouette = models.FloatField(
        help_text="-1 to 1: how much closer shoppers are to their own cluster than the next."
    )
    owners = models.PositiveIntegerField(default=0, help_text="Shoppers clustered.")
    features = models.JSONField(default=list, help_text="The behaviour features, in order.")
    # [{"label", "name", "size", "segment", "means": {feature: mean in the feature's own units}}]
    clusters = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    seconds = models.FloatField(default=0, help_text="How long the run took, reading the record included.")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_method_display()} k={self.k} ({self.created_at:%Y-%m-%d %H:%M})"


class Segment(models.Model):
    """A merchandiser's group of shoppers, defined as a condition tree (segments/conditions.py),
    or a cluster of the newest clustering (cluster set): its members are then written by each
    re-cluster, never by the live evaluation, and it has no definition."""

    slug = models.SlugField(unique=True, help_text="How templates and stages name it; fixed once created.")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    definition = models.JSONField(
        help_text='A condition tree, e.g. {"all": [{"event": "add_to_cart", "within": "24h"}, '
        '{"event": "purchase", "within": "24h", "at_most": 0}]}'
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Written by each full evaluation (backfill, sweep); the admin shows them so nothing is silently stale.
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_corrections = models.PositiveIntegerField(
        default=0, help_text="Memberships the last sweep had to correct (the live path missed them)."
    )
    cluster = models.PositiveSmallIntegerField(
        null=True, blank=True, editable=False, help_text="The cluster of the newest clustering this segment holds."
    )
    clustering = models.ForeignKey(
        Clustering, null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="segments"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_cluster(self) -> bool:
        return self.cluster is not None

    def clean(self) -> None:
        if self.is_cluster:
            return
        try:
            parsed = definition_parse(self.definition)
        except ConditionError as error:
            raise ValidationError({"definition": str(error)}) from None
        others = dict(Segment.objects.exclude(pk=self.pk).values_list("slug", "definition"))
        clusters = set(Segment.objects.filter(cluster__isnull=False).values_list("slug", flat=True))
        named = sorted(parsed.references & clusters)
        if named:
            # A cluster has no condition to evaluate live; rules, blocks and experiments can name it.
            raise ValidationError(
                {"definition": f"segment: {named[0]!r} is a cluster, which a condition cannot name (a rule can)"}
            )
        missing = sorted(parsed.references - set(others))
        if missing:
            raise ValidationError({"definition": f"segment: no segment has the slug {missing[0]!r}"})
        # Following references from this segment must never come back to it.
        todo, seen = list(parsed.references), set()
        while todo:
            slug = todo.pop()
            if slug == self.slug:
                raise ValidationError({"definition": "segment: the segments refer to each other in a circle"})
            if slug in seen or slug not in others:
                continue
            seen.add(slug)
            try:
                todo.extend(definition_parse(others[slug]).references)
            except ConditionError:
                continue


class Membership(models.Model):
    """One stay of an owner in a segment: entered, and exited once it ends. At most one is open
    per (segment, owner), which makes recording a transition twice a no-op."""

    # No index of its own: membership_entered begins with the segment and serves every lookup by
    # it, and each index is one more insert for every row the live path records. No constraint
    # either (segments/record.py): deleting a segment still deletes its stays.
    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, related_name="memberships", db_index=False, db_constraint=False
    )
    owner = models.CharField(max_length=64)
    entered_at = models.DateTimeField()
    exited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "owner"], condition=models.Q(exited_at__isnull=True), name="membership_open_once"
            )
        ]
        indexes = [
            # By owner, then segment: the record's look-up of an owner's stays in one segment (the
            # journal's drain, segments/record.py) is then one index probe, not the owner's stays
            # intersected with the segment's; look-ups by owner alone use its first column.
            models.Index(fields=["owner", "segment"], name="membership_owner_segment"),
            models.Index(fields=["segment", "entered_at"], name="membership_entered"),
        ]

    def __str__(self) -> str:
        return f"{self.owner} in {self.segment_id}"
