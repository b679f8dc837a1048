"""Experiments on what a slot shows, their variants, and the decision taken at the end."""

import secrets

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from personalization.slots import SLOT_CHOICES


def _salt() -> str:
    return secrets.token_hex(8)


class Metric(models.TextChoices):
    """What a variant is judged on, each computed per exposed visitor from the event record."""

    SLOT_CTR = "slot_ctr", "Slot click-through (clicks per exposed visitor)"
    ADD_TO_CART = "add_to_cart", "Add-to-cart rate"
    CONVERSION = "conversion", "Conversion (ordered)"
    REVENUE = "revenue", "Revenue per visitor"
    AOV = "aov", "Average order value"
    SESSION_LENGTH = "session_length", "Session length (seconds per session)"


class Experiment(models.Model):
    """An A/B/n test of one slot's settings. Visitors of its layer whose layer bucket falls in
    [traffic_start, traffic_start + traffic_percent) take part; experiments of one layer never
    overlap, so a visitor is in at most one of them."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        RUNNING = "running", "Running"
        STOPPED = "stopped", "Stopped"

    class Mode(models.TextChoices):
        AB = "ab", "A/B/n: a fixed split by weight"
        BANDIT = "bandit", "Bandit: traffic moves to the arm that earns clicks (Thompson sampling)"

    name = models.CharField(max_length=100, unique=True)
    hypothesis = models.TextField(blank=True)
    slot = models.CharField(max_length=32, choices=SLOT_CHOICES)
    layer = models.SlugField(
        max_length=40, default="slots", help_text="Experiments of one layer share its visitors without overlapping."
    )
    traffic_start = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(99)], help_text="Where its share of the layer begins, in percent."
    )
    traffic_percent = models.PositiveSmallIntegerField(
        default=100,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Share of the layer's visitors in the experiment.",
    )
    salt = models.CharField(max_length=32, default=_salt, help_text="Mixed into the hash that picks a variant.")
    segments = models.ManyToManyField(
        "segments.Segment", blank=True, help_text="Only members of one of these segments take part; none: everyone."
    )
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.AB)
    split_percent = models.PositiveSmallIntegerField(
        default=20,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text="Bandit: share of its traffic kept on the fixed split by weight, beside the bandit, so "
        "the arms and the bandit itself are still compared without bias.",
    )
    min_share = models.PositiveSmallIntegerField(
        default=5,
        validators=[MaxValueValidator(50)],
        help_text="Bandit: the least share of the bandit's traffic each arm keeps, in percent.",
    )
    bandit_shares = models.JSONField(
        default=dict, blank=True, help_text="Bandit: each arm's share of the bandit's traffic, from the last update."
    )
    bandit_updated_at = models.DateTimeField(null=True, blank=True)
    primary_metric = models.CharField(max_length=20, choices=Metric.choices, default=Metric.SLOT_CTR)
    guardrails = models.JSONField(default=list, blank=True, help_text="Metrics that must not get worse.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    winner = models.ForeignKey("Variant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def traffic_end(self) -> int:
        return self.traffic_start + self.traffic_percent


class Variant(models.Model):
    """One arm: what the slot shows to the visitors assigned to it."""

    class Kind(models.TextChoices):
        AS_CONFIGURED = "configured", "The slot as configured (personalized)"
        ALGORITHM = "algorithm", "Another algorithm"
        WEIGHTS = "weights", "Hybrid with other weights"
        NEWEST = "newest", "Generic: newest products"
        POPULAR = "popular", "Generic: most popular products"

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variants")
    key = models.SlugField(max_length=32)
    is_control = models.BooleanField(default=False)
    weight = models.PositiveSmallIntegerField(
        default=50, validators=[MinValueValidator(1), MaxValueValidator(100)], help_text="Percent of the experiment."
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.AS_CONFIGURED)
    algorithm = models.CharField(max_length=40, blank=True, help_text="For 'another algorithm'.")
    weights = models.JSONField(
        default=dict, blank=True, help_text='For hybrid weights, e.g. {"collaborative": 1, "content": 0.2}.'
    )

    class Meta:
        ordering = ["experiment", "-is_control", "key"]
        constraints = [models.UniqueConstraint(fields=["experiment", "key"], name="variant_key_once")]

    def __str__(self) -> str:
        return f"{self.experiment.name}: {self.key}"
