"""Training switches versions atomically: a worker killed half-way leaves the last version serving."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from personalization.models import ModelVersion
from personalization.training import model_train
from tests.factories.catalog import ProductFactory
from tests.factories.tracking import EventFactory

ROOT = Path(__file__).resolve().parents[2]
SLOW_TRAINING = """
import time, django
django.setup()
from personalization.recommenders.itemknn import ItemKNN
from personalization.training import model_train

def slow_fit(self, data):
    time.sleep(60)  # a long training, to be killed in the middle

ItemKNN.fit = slow_fit
model_train(name="itemknn")
"""


def _history():
    products = ProductFactory.create_batch(6)
    for _ in range(4):
        visitor = uuid.uuid4()
        for product in products[:3]:
            EventFactory(visitor_id=visitor, name="add_to_cart", source="server", product_id=product.pk)
    return products


@pytest.mark.django_db(transaction=True)
def test_a_killed_training_leaves_the_previous_version_serving(client):
    products = _history()
    serving = model_train(name="itemknn")
    database = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "shop.settings.test",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
    }
    worker = subprocess.Popen([sys.executable, "-c", SLOW_TRAINING], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 20
        while not ModelVersion.objects.filter(name="itemknn", status="training").exists():
            assert time.monotonic() < deadline, "the training never started"
            assert worker.poll() is None, "the training process died on its own"
            time.sleep(0.1)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert ModelVersion.objects.get(name="itemknn", is_active=True) == serving
    half_done = ModelVersion.objects.get(name="itemknn", status="training")
    assert not half_done.is_active and not half_done.artifact
    page = client.get(products[0].get_absolute_url())
    assert [p.pk for p in page.context["slots"]["product_also_bought"].products][:2] == [products[1].pk, products[2].pk]


@pytest.mark.django_db
def test_retrain_command_trains_every_served_model(capsys):
    _history()
    call_command("retrain")
    active = set(ModelVersion.objects.filter(is_active=True).values_list("name", flat=True))
    assert active == set(settings.RECOMMENDER_SERVED)
    assert "Trained and serving" in capsys.readouterr().out


@pytest.mark.django_db
def test_retrain_refuses_an_unknown_model():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Unknown model"):
        call_command("retrain", model=["magic"])


@pytest.mark.django_db
def test_staff_roll_back_to_an_earlier_version(admin_client):
    _history()
    first, second = model_train(name="itemknn"), model_train(name="itemknn")
    assert ModelVersion.objects.get(name="itemknn", is_active=True) == second
    response = admin_client.post(
        reverse("admin:personalization_modelversion_changelist"),
        {"action": "activate", "_selected_action": [first.pk]},
    )
    assert response.status_code == 302
    assert ModelVersion.objects.get(name="itemknn", is_active=True) == first
