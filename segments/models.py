"""Segment definitions and the durable record of who entered and left them."""

from django.core.exceptions import ValidationError
from django.db import models

from .conditions import ConditionError, definition_parse


class Segment(models.Model):
    """A merchandiser's group of shoppers, defined as a condition tree (segments/conditions.py)."""

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

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            parsed = definition_parse(self.definition)
        except ConditionError as error:
            raise ValidationError({"definition": str(error)}) from None
        others = dict(Segment.objects.exclude(pk=self.pk).values_list("slug", "definition"))
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

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
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
            models.Index(fields=["owner"], name="membership_owner"),
            models.Index(fields=["segment", "entered_at"], name="membership_entered"),
        ]

    def __str__(self) -> str:
        return f"{self.owner} in {self.segment_id}"
