"""Writes of experiments: checks before start, start, stop, shipping the winner, publishing, and
a bandit's shares updated from the record."""

import json

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from personalization.models import SlotConfig
from personalization.recommenders.hybrid import PARTS
from personalization.recommenders.registry import algorithms
from personalization.serving import slots_publish
from shop.keyspace import experiments_key, redis_client

from .assignment import PublishedExperiment, PublishedVariant
from .models import Experiment, Metric, Variant
from .selectors import bandit_exposures
from .stats import thompson_shares

# What a bandit may vary: how a slot picks its products, never generic lists (that is the holdout's).
BANDIT_KINDS = {Variant.Kind.AS_CONFIGURED, Variant.Kind.ALGORITHM, Variant.Kind.WEIGHTS}


def experiment_problems(*, experiment: Experiment, variants: list[Variant]) -> list[str]:
    """Why this experiment cannot run as set up; empty when it can. Checked before start and
    on every save of a draft in admin, so a merchandiser sees the message, never an error page."""
    problems = []
    if len(variants) < 2:
        problems.append("An experiment needs at least two variants: a control and a treatment.")
    if sum(1 for v in variants if v.is_control) != 1:
        problems.append("Exactly one variant must be the control.")
    if variants and sum(v.weight for v in variants) != 100:
        problems.append(f"Variant weights must sum to 100%; they sum to {sum(v.weight for v in variants)}%.")
    if len({v.key for v in variants}) < len(variants):
        problems.append("Each variant needs its own key.")
    known = set(algorithms()) | {"hybrid"}
    for v in variants:
        if v.kind == Variant.Kind.ALGORITHM and v.algorithm not in known:
            problems.append(f"Variant {v.key}: choose an algorithm of {', '.join(sorted(known))}.")
        if v.kind == Variant.Kind.WEIGHTS:
            weights = v.weights if isinstance(v.weights, dict) else {}
            unknown = set(weights) - set(PARTS)
            if not weights or unknown or any(not isinstance(w, int | float) or w < 0 for w in weights.values()):
                problems.append(f"Variant {v.key}: weights are parts of {', '.join(PARTS)} with numbers of 0 or more.")
    if experiment.mode == Experiment.Mode.BANDIT:
        if any(v.kind not in BANDIT_KINDS for v in variants):
            problems.append("A bandit's arms are the slot as configured, another algorithm or other hybrid weights.")
        if variants and experiment.min_share * len(variants) > 100:
            problems.append(
                f"{len(variants)} arms cannot each keep {experiment.min_share}% of the traffic; "
                "lower the minimum share."
            )
        if not 1 <= experiment.split_percent <= 99:
            problems.append("A bandit keeps 1% to 99% of its traffic on the fixed split.")
    if experiment.traffic_end > 100:
        problems.append(f"Traffic runs to {experiment.traffic_end}% of the layer; it must end at 100% or before.")
    if experiment.primary_metric not in Metric.values:
        problems.append("Choose a primary metric.")
    guardrails = experiment.guardrails if isinstance(experiment.guardrails, list) else None
    if guardrails is None or any(g not in Metric.values for g in guardrails):
        problems.append(f"Guardrails are a list of metrics among {', '.join(Metric.values)}.")
    for other in Experiment.objects.filter(status=Experiment.Status.RUNNING).exclude(pk=experiment.pk):
        overlaps = other.traffic_start < experiment.traffic_end and experiment.traffic_start < other.traffic_end
        if other.layer == experiment.layer and overlaps:
            problems.append(
                f"“{other.name}” runs in layer {other.layer} on {other.traffic_start}–{other.traffic_end}%; "
                "experiments of one layer may not overlap."
            )
        elif other.layer != experiment.layer and other.slot == experiment.slot:
            problems.append(f"“{other.name}” already tests this slot in layer {other.layer}.")
    return problems


def experiment_start(*, experiment: Experiment) -> Experiment:
    """Start a draft: checked, then its design (variants, metrics) is locked and pages see it."""
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if experiment.status != Experiment.Status.DRAFT:
            raise ValidationError(f"“{experiment.name}” is {experiment.get_status_display().lower()}, not a draft.")
        problems = experiment_problems(experiment=experiment, variants=list(experiment.variants.all()))
        if problems:
            raise ValidationError(problems)
        experiment.status, experiment.started_at = Experiment.Status.RUNNING, timezone.now()
        experiment.save(update_fields=["status", "started_at"])
        transaction.on_commit(experiments_publish)
    return experiment


def experiment_stop(*, experiment: Experiment, winner: Variant | None = None) -> Experiment:
    """Stop a running experiment; with a winner, its settings become the slot's default."""
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if experiment.status != Experiment.Status.RUNNING:
            raise ValidationError(f"“{experiment.name}” is not running.")
        if winner is not None:
            if winner.experiment_id != experiment.pk:
                raise ValidationError("The winner must be one of the experiment's variants.")
            _ship(experiment=experiment, variant=winner)
        experiment.status, experiment.stopped_at, experiment.winner = Experiment.Status.STOPPED, timezone.now(), winner
        experiment.save(update_fields=["status", "stopped_at", "winner"])
        transaction.on_commit(experiments_publish)
        if winner is not None:
            transaction.on_commit(slots_publish)
    return experiment


def _ship(*, experiment: Experiment, variant: Variant) -> None:
    config = SlotConfig.objects.select_for_update().get(slot=experiment.slot)
    settings = published_variant(variant).slot_settings(config.as_settings())
    config.algorithm, config.diversity, config.epsilon = settings.algorithm, settings.diversity, settings.epsilon
    fields = ["algorithm", "diversity", "epsilon"]
    for part, weight in settings.weights.items():
        setattr(config, f"weight_{part}", weight)
        fields.append(f"weight_{part}")
    config.save(update_fields=fields)


def published_variant(variant: Variant) -> PublishedVariant:
    return PublishedVariant(
        key=variant.key,
        weight=variant.weight,
        kind=variant.kind,
        algorithm=variant.algorithm,
        weights=dict(variant.weights or {}),
        is_control=variant.is_control,
    )


def experiments_publish() -> list[PublishedExperiment]:
    """Copy the running experiments to Redis, oldest first, where pages read them."""
    running = [
        PublishedExperiment(
            id=experiment.pk,
            name=experiment.name,
            slot=experiment.slot,
            layer=experiment.layer,
            start=experiment.traffic_start,
            end=experiment.traffic_end,
            salt=experiment.salt,
            variants=tuple(published_variant(v) for v in experiment.variants.all()),
            segments=tuple(segment.slug for segment in experiment.segments.all()),
            mode=experiment.mode,
            split_percent=experiment.split_percent if experiment.mode == Experiment.Mode.BANDIT else 100,
            shares=dict(experiment.bandit_shares or {}),
        )
        for experiment in Experiment.objects.filter(status=Experiment.Status.RUNNING)
        .order_by("started_at", "pk")
        .prefetch_related("variants", "segments")
    ]
    redis_client().set(experiments_key(), json.dumps([experiment.as_json() for experiment in running]))
    return running


def bandit_update(*, experiment: Experiment) -> dict[str, float]:
    """A running bandit's new shares from every exposure so far and the slot clicks that followed
    (both the bandit's and the fixed split's: each is a fair draw of its arm), saved and
    published; pages read them with the experiments, no round trip of their own."""
    keys = [v.key for v in experiment.variants.all()]
    trials, clicks = dict.fromkeys(keys, 0), dict.fromkeys(keys, 0.0)
    for exposure in bandit_exposures(experiment=experiment):
        if exposure.variant in trials:
            trials[exposure.variant] += 1
            clicks[exposure.variant] += exposure.reward
    shares = thompson_shares(
        successes=[clicks[k] for k in keys],
        trials=[trials[k] for k in keys],
        min_share=experiment.min_share / 100,
        seed=experiment.pk,
    )
    experiment.bandit_shares = {key: round(share, 4) for key, share in zip(keys, shares, strict=True)}
    experiment.bandit_updated_at = timezone.now()
    experiment.save(update_fields=["bandit_shares", "bandit_updated_at"])
    transaction.on_commit(experiments_publish)
    return experiment.bandit_shares


def bandits_update() -> int:
    """Update every running bandit (beat calls this on EXPERIMENTS_BANDIT_UPDATE_MINUTES)."""
    running = Experiment.objects.filter(status=Experiment.Status.RUNNING, mode=Experiment.Mode.BANDIT)
    for experiment in running:
        bandit_update(experiment=experiment)
    return len(running)
