"""Training: build interactions from the event record, fit a model, store it as a new version,
and switch serving to it atomically. A run that dies half-way leaves the last version serving."""

import logging
import resource
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from shop.catalog.models import Product
from shop.keyspace import models_active_key, redis_client
from tracking.items import event_items
from tracking.models import Event
from tracking.owners import owner_key
from tracking.registry import Source

from .models import ModelVersion, PendingErasure
from .recommenders.base import EVENT_WEIGHTS, Interactions, Recommender
from .recommenders.registry import algorithm
from .trust import event_votes

logger = logging.getLogger(__name__)
Progress = Callable[[str], None]

# The training task's time limit: a version still "training" after this long died with its worker.
TRAINING_TIME_LIMIT = 3600

# Rows fetched per round trip when reading events for training: 20k rows of six columns
# took ~60 ms each on local Postgres; bigger chunks did not read faster.
EVENT_CHUNK = 20_000


def _event_rows(*, since) -> dict[str, list]:
    """One row per (event, product) with what trust weighs: who (and their number), signed in or not, what,
    which event, whence and when."""
    owners, codes, accounts, items, names, sources, times = [], [], [], [], [], [], []
    numbers: dict[str, int] = {}
    events = (
        Event.objects.filter(name__in=list(EVENT_WEIGHTS), occurred_at__gte=since)
        .values_list("user_id", "visitor_id", "name", "product_id", "properties", "occurred_at", "source")
        .iterator(chunk_size=EVENT_CHUNK)
    )
    for user_id, visitor_id, name, product_id, properties, occurred_at, source in events:
        imported = source == Source.IMPORT
        found = event_items(product_id=product_id, properties=properties or {}, imported=imported)
        # An imported event's item codes are the source shop's, not our products.
        products = [item.item for item in found if item.is_product]
        owner, moment = owner_key(user_id=user_id, visitor_id=visitor_id), occurred_at.timestamp()
        code = numbers.setdefault(owner, len(numbers))
        for product in products:
            owners.append(owner), codes.append(code), accounts.append(bool(user_id)), items.append(product)
            names.append(name), sources.append(source), times.append(moment)
    return {
        "owners": owners,
        "codes": codes,
        "accounts": accounts,
        "items": items,
        "names": names,
        "sources": sources,
        "times": times,
    }


def product_features(product_ids: np.ndarray) -> dict[str, np.ndarray]:
    """What content models read about each product: category, brand and text, in id order."""
    rows = {
        pk: (
            category,
            brand,
            f"{title} {description} {brand_name or ''} {category_name} " + " ".join(map(str, attrs.values())),
        )
        for pk, category, brand, title, description, brand_name, category_name, attrs in Product.objects.filter(
            pk__in=product_ids.tolist()
        ).values_list(
            "pk", "category_id", "brand_id", "title", "description", "brand__name", "category__name", "attributes"
        )
    }
    return {
        "category": np.array([rows[pk][0] for pk in product_ids], dtype=np.int64),
        "brand": np.array([rows[pk][1] or -1 for pk in product_ids], dtype=np.int64),
        "text": np.array([rows[pk][2] for pk in product_ids], dtype=object),
    }


@dataclass(frozen=True)
class TrainingSet:
    """What every model of a run trains on (data), and the trusted event rows behind it (log, in
    the offline protocol's columns plus each product's category, brand and text), which
    personalization.quality splits by time to measure each version."""

    data: Interactions
    log: pd.DataFrame

    def without_users(self, users: set) -> "TrainingSet":
        return TrainingSet(data=self.data.without_users(users), log=self.log[~self.log["user"].isin(users)])


def interactions_from_events(*, days: int | None = None) -> Interactions:
    """Every active product is an item (new ones too); every user or visitor with behaviour a row.

    Each event counts as much as personalization/trust.py believes it, so every model trains
    on the same trusted interactions."""
    return training_set(days=days).data


def training_set(*, days: int | None = None) -> TrainingSet:
    """The run's interactions (interactions_from_events) and their trusted rows as a log."""
    since = timezone.now() - timedelta(days=days or settings.RECOMMENDER_TRAINING_DAYS)
    universe = np.array(sorted(Product.objects.active().values_list("pk", flat=True)), dtype=np.int64)
    rows = _event_rows(since=since)
    owners, items, times = (
        np.array(rows["owners"], dtype=object),
        np.array(rows["items"], dtype=np.int64),
        np.array(rows["times"], dtype=np.float64),
    )
    kept, weights = event_votes(
        owners=np.array(rows["codes"], dtype=np.int64),
        accounts=np.array(rows["accounts"], dtype=bool),
        items=items,
        names=np.array(rows["names"], dtype=object),
        sources=np.array(rows["sources"], dtype=object),
        times=times,
    )
    data = Interactions.from_triples(owners[kept], items[kept], weights, times[kept], item_universe=universe)
    data.item_features = product_features(universe)
    data.events_used = len(kept)
    log = _training_log(data, owners=owners[kept], items=items[kept], weights=weights, times=times[kept])
    return TrainingSet(data=data, log=log)


def _training_log(
    data: Interactions, *, owners: np.ndarray, items: np.ndarray, weights: np.ndarray, times: np.ndarray
) -> pd.DataFrame:
    """The trusted rows on active products as the protocol's log, each with what its product is.

    Every row is a target: the held-out truth is whatever a shopper turned to next (viewed,
    wished for, carted or bought), which is what the shelves are for. Purchases alone leave too
    few shoppers: on the demo data 26 bought something new to them in the held-out days, 176
    came back to one."""
    active = np.isin(items, data.item_ids)
    log = pd.DataFrame(
        {
            "user": owners[active],
            "item": items[active],
            "ts": times[active],
            "weight": weights[active].astype(np.float64),
            "target": True,
        }
    )
    positions = np.searchsorted(data.item_ids, items[active])
    for feature, values in data.item_features.items():
        log[feature] = values[positions]
    return log


def _peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def model_train(*, name: str, training: TrainingSet | None = None, progress: Progress | None = None) -> ModelVersion:
    """Fit one algorithm on the event record, measure its offline quality, and make it the serving version.

    The quality (personalization.quality) is measured after the served fit: a measurement that
    fails is stored as why, and the version serves all the same."""
    say = progress or (lambda step: None)
    version = ModelVersion.objects.create(name=name)
    started = time.monotonic()
    try:
        model_class = algorithm(name)
        say("reading events")
        training = _without_erased(training or training_set())
        data = training.data
        say(f"fitting {name} on {data.n_users} users x {data.n_items} items")
        model: Recommender = model_class(**settings.RECOMMENDER_PARAMS.get(name, {})).fit(data)
        say("storing")
        blob = model.save()
    except Exception:
        version.status = ModelVersion.Status.FAILED
        version.error = traceback.format_exc()[-4000:]
        version.finished_at = timezone.now()
        version.save(update_fields=["status", "error", "finished_at"])
        raise
    say(f"measuring {name} on the held-out last days")
    version.quality = _quality(name=name, log=training.log)
    version.artifact = blob
    version.artifact_bytes = len(blob)
    version.events_used = data.events_used or int(data.matrix.nnz)
    version.n_users, version.n_items = data.n_users, data.n_items
    version.seconds = time.monotonic() - started
    version.peak_memory_mb = _peak_memory_mb()
    version.status = ModelVersion.Status.READY
    version.finished_at = timezone.now()
    version.save()
    model_activate(version=version)
    say(f"{name} v{version.pk} serving")
    return version


def _quality(*, name: str, log: pd.DataFrame) -> dict:
    # Imported here: evaluation's served pipeline imports serving, which imports this module.
    from .quality import FAILED, version_quality

    started = time.monotonic()
    try:
        return version_quality(name=name, log=log)
    except Exception as error:  # a measurement's bug must not cost the shop its new version
        logger.exception("measuring %s failed", name)
        return {"status": FAILED, "reason": f"{type(error).__name__}: {error}", "seconds": time.monotonic() - started}


def model_activate(*, version: ModelVersion) -> None:
    """Switch serving to a ready version in one transaction; pages pick it up on their next read."""
    if version.status != ModelVersion.Status.READY:
        raise ValueError(f"version {version.pk} is {version.status}, not ready")
    with transaction.atomic():
        ModelVersion.objects.filter(name=version.name, is_active=True).exclude(pk=version.pk).update(is_active=False)
        ModelVersion.objects.filter(pk=version.pk).update(is_active=True)
        transaction.on_commit(models_publish)


def models_publish() -> dict[str, str]:
    """Tell every web process which versions serve, through one Redis hash of name -> token."""
    active = {
        name: version_token(pk=pk, revision=revision)
        for name, pk, revision in ModelVersion.objects.filter(is_active=True).values_list("name", "pk", "revision")
    }
    client = redis_client()
    pipe = client.pipeline()
    pipe.delete(models_active_key())
    if active:
        pipe.hset(models_active_key(), mapping=active)
    pipe.execute()
    return active


def version_token(*, pk: int, revision: int) -> str:
    """What serving compares to know its snapshot is current: the version and its revision."""
    return f"{pk}:{revision}"


def version_id(token: str) -> int:
    return int(token.partition(":")[0])


def model_load(*, version_id: int) -> Recommender:
    blob = (
        ModelVersion.objects.filter(pk=version_id, status=ModelVersion.Status.READY)
        .values_list("artifact", flat=True)
        .get()
    )
    return Recommender.load(blob)


def _without_erased(training: TrainingSet) -> TrainingSet:
    """Training data without anyone erased lately: events read before an erase committed still
    hold them (the retrain command reads once, then trains model after model)."""
    users = training.data.user_ids.tolist()
    erased = set(PendingErasure.objects.values_list("owner", flat=True)).intersection(users)
    return training.without_users(erased) if erased else training


def model_versions_forget(*, owners: set[str]) -> int:
    """Take these owners out of every stored version, serving or kept for roll-back: a version that
    learned from them is refitted, in place, on its own training data without their rows (the
    contract's fit() rebuilds everything a model learned, so nothing of theirs stays in neighbour
    lists or factors either). Its revision changes, so web processes reload it. Returns how many
    versions changed."""
    changed = 0
    ready = ModelVersion.objects.filter(status=ModelVersion.Status.READY, artifact__isnull=False)
    for pk in ready.values_list("pk", flat=True):
        with transaction.atomic():
            # Locked while refitting: two clean-ups of one version must not write over each other.
            version = ModelVersion.objects.select_for_update().filter(pk=pk, artifact__isnull=False).first()
            if version is None:
                continue  # retired meanwhile
            model = Recommender.load(version.artifact)
            if model.data is None or not owners.intersection(model.data.user_ids.tolist()):
                continue
            model.fit(model.data.without_users(owners))
            version.artifact = model.save()
            version.artifact_bytes = len(version.artifact)
            version.n_users = model.data.n_users
            version.revision += 1
            version.save(update_fields=["artifact", "artifact_bytes", "n_users", "revision"])
            if version.is_active:
                transaction.on_commit(models_publish)
        changed += 1
        logger.info("%s v%s refitted without %d erased owner(s)", version.name, version.pk, len(owners))
    return changed


def trainings_running() -> bool:
    """Whether a training is under way (one that has outlived its time limit is dead, not running)."""
    since = timezone.now() - timedelta(seconds=TRAINING_TIME_LIMIT)
    return ModelVersion.objects.filter(status=ModelVersion.Status.TRAINING, started_at__gte=since).exists()


def models_retire(*, keep: int = 3) -> int:
    """Drop old inactive artifacts, keeping the newest few per name for a quick roll-back."""
    removed = 0
    for name in ModelVersion.objects.values_list("name", flat=True).distinct():
        stale = ModelVersion.objects.filter(name=name, is_active=False).order_by("-started_at")[keep:]
        removed += ModelVersion.objects.filter(pk__in=[v.pk for v in stale]).delete()[0]
    return removed
