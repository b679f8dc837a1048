"""An erased person leaves every stored model version, serving or kept, and serving reloads at once."""

import uuid

import numpy as np
import pytest
from django.urls import reverse
from django_redis import get_redis_connection

from personalization.api import profile_forget
from personalization.erasure import erasures_finish
from personalization.models import ModelVersion, PendingErasure
from personalization.recommenders.itemknn import ItemKNN
from personalization.training import model_load, model_train, training_set
from shop.keyspace import models_active_key
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.catalog import ProductFactory
from tests.factories.tracking import EventFactory

pytestmark = pytest.mark.django_db


def _history(*, user_id: int) -> list:
    products = ProductFactory.create_batch(6)
    for _ in range(4):
        visitor = uuid.uuid4()
        for product in products[:3]:
            EventFactory(visitor_id=visitor, name="add_to_cart", product_id=product.pk)
    for product in products[3:5]:
        EventFactory(user_id=user_id, name="purchase", product_id=product.pk)
    return products


def _owners_in(version: ModelVersion) -> set[str]:
    return set(model_load(version_id=version.pk).data.user_ids.tolist())


def test_erase_refits_every_stored_version_without_the_shopper(
    client, celery_eager, django_capture_on_commit_callbacks
):
    user = UserFactory()
    owner = f"u:{user.pk}"
    products = _history(user_id=user.pk)
    kept = model_train(name="itemknn")
    serving = model_train(name="itemknn")
    popularity = model_train(name="popularity")
    assert all(owner in _owners_in(version) for version in (kept, serving, popularity))
    live = get_redis_connection("default")
    token = live.hget(models_active_key(), "itemknn")
    client.post(reverse("accounts:login"), {"username": user.username, "password": PASSWORD})

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:privacy_erase"), {"confirm": "yes", "password": PASSWORD})

    for version in ModelVersion.objects.filter(status="ready"):
        assert owner not in _owners_in(version), version
    assert ModelVersion.objects.get(pk=serving.pk).is_active
    assert live.hget(models_active_key(), "itemknn") != token, "serving must reload the refitted version"
    # What the refit holds is what training afresh without the shopper gives.
    fresh = model_train(name="popularity")
    assert np.array_equal(model_load(version_id=popularity.pk).scores_, model_load(version_id=fresh.pk).scores_)
    assert not PendingErasure.objects.get(owner=owner).models_pending
    page = client.get(products[0].get_absolute_url())
    assert page.status_code == 200
    assert products[1].pk in [p.pk for p in page.context["slots"]["product_also_bought"].products]


def test_a_training_under_way_during_an_erase_is_cleaned_by_the_next_pass(monkeypatch):
    owner = "u:7007"
    _history(user_id=7007)
    fit = ItemKNN.fit

    def fit_while_erased(self, data):
        profile_forget(user_id=7007, visitor_id=None)
        erasures_finish()  # the worker's pass, while this training is still under way
        return fit(self, data)

    monkeypatch.setattr(ItemKNN, "fit", fit_while_erased)
    stored = model_train(name="itemknn")
    monkeypatch.undo()
    assert owner in _owners_in(stored), "it read the events before the erase"
    assert PendingErasure.objects.get(owner=owner).models_pending

    erasures_finish()
    assert owner not in _owners_in(stored)
    assert not PendingErasure.objects.get(owner=owner).models_pending


def test_a_training_on_events_read_before_an_erase_leaves_the_person_out():
    _history(user_id=7008)
    training = training_set()  # the retrain command reads once, then trains model after model
    profile_forget(user_id=7008, visitor_id=None)
    version = model_train(name="popularity", training=training)
    assert "u:7008" not in _owners_in(version)
