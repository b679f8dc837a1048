"""Trained model versions (switched atomically), erasures still to finish, and the merchandiser's slot settings."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from .slots import SLOT_CHOICES, SlotSettings


class ModelVersion(models.Model):
    """One training run of one recommender; exactly one ready version per name is active."""

    class Status(models.TextChoices):
        TRAINING = "training", "Training"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    name = models.CharField(max_length=40, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.TRAINING)
    is_active = models.BooleanField(default=False)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    events_used = models.PositiveBigIntegerField(default=0)
    n_users = models.PositiveIntegerField(default=0)
    n_items = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0)
    peak_memory_mb = models.FloatField(default=0)
    error = models.TextField(blank=True)
    artifact = models.BinaryField(editable=False, null=True)
    artifact_bytes = models.PositiveBigIntegerField(default=0)
    # Bumped when the artifact is rewritten in place (someone erased from it), so every web
    # process reloads the version it holds.
    revision = models.PositiveIntegerField(default=0)
    # Offline quality on the run's held-out last days (personalization.quality.version_quality):
    # status, the split, the metrics, popularity's on the same shoppers; empty before measuring.
    quality = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(is_active=True), name="modelversion_one_active_per_name"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.pk} ({self.status}{', active' if self.is_active else ''})"


class PendingErasure(models.Model):
    """What is left to forget of an erased owner ('u:<user id>' or 'v:<visitor id>') outside Postgres:
    Redis keys (live profile, the account's cached sessions) and rows in stored model versions.

    Written in the erase's own transaction, so it commits with the erase; emptied by
    erasures_finish, and remembered a day after (personalization.erasure.ERASURE_MEMORY) so a
    training that read the events before the erase leaves the owner out.
    """

    owner = models.CharField(max_length=64, unique=True)
    redis_keys = models.JSONField(default=list, blank=True)
    models_pending = models.BooleanField(default=True)
    requested_at = models.DateTimeField(default=timezone.now, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return self.owner


class SlotConfig(models.Model):
    """How one slot fills itself: which algorithm, how many items, blend weights, exploration."""

    slot = models.CharField(max_length=32, choices=SLOT_CHOICES, unique=True)
    title = models.CharField(max_length=80)
    algorithm = models.CharField(
        max_length=40,
        help_text="A recommender from the registry; 'hybrid' blends the served parts with the weights below.",
    )
    size = models.PositiveSmallIntegerField(default=8, validators=[MinValueValidator(1), MaxValueValidator(24)])
    weight_collaborative = models.FloatField(default=1.0, validators=[MinValueValidator(0)])
    weight_content = models.FloatField(default=0.5, validators=[MinValueValidator(0)])
    weight_recency = models.FloatField(default=0.5, validators=[MinValueValidator(0)])
    weight_popularity = models.FloatField(default=0.1, validators=[MinValueValidator(0)])
    diversity = models.FloatField(
        default=0.3,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="MMR trade-off: 0 ranks by relevance only, 1 spreads across categories most.",
    )
    epsilon = models.FloatField(
        default=0.1,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Chance that one position shows a long-tail item, so new products get seen.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["slot"]

    def __str__(self) -> str:
        return self.get_slot_display()

    def as_settings(self) -> SlotSettings:
        return SlotSettings(
            title=self.title,
            algorithm=self.algorithm,
            size=self.size,
            weights={
                "collaborative": self.weight_collaborative,
                "content": self.weight_content,
                "recency": self.weight_recency,
                "popularity": self.weight_popularity,
            },
            diversity=self.diversity,
            epsilon=self.epsilon,
            is_active=self.is_active,
        )
