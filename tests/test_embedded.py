"""The embedded default: with no Postgres or Redis in reach, the shop runs on SQLite, fakeredis and eager tasks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Port 1 refuses at once, so the settings' probes decide without waiting for a timeout.
UNREACHABLE = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nope",
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "CELERY_BROKER_URL": "redis://127.0.0.1:1/1",
}

SMOKE = """
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django_redis import get_redis_connection

from shop.celery import app

assert connection.vendor == "sqlite", connection.vendor
assert settings.EMBEDDED_DATABASE and settings.EMBEDDED_REDIS

cache.set("embedded-smoke", {"ok": 1}, 60)
assert cache.get("embedded-smoke") == {"ok": 1}
redis = get_redis_connection("default")
redis.set("embedded-raw", "1")
assert redis.get("embedded-raw") == b"1"
# The profile store's Lua scripts must run here as they do on a real server.
assert redis.eval("return redis.call('INCR', KEYS[1])", 1, "k") == 1
assert redis.eval("return redis.call('INCR', KEYS[1])", 1, "k") == 2

assert settings.CELERY_TASK_ALWAYS_EAGER is True
assert app.conf.task_always_eager is True

response = Client().get("/")
assert response.status_code == 200, response.status_code
# Search without pg_trgm: plain word matching, no corrections, type-ahead by words in titles.
for url in ("/search/?q=shrit", "/search/suggest/?q=shrit", "/search/suggest/?q=mug"):
    response = Client().get(url)
    assert response.status_code == 200, (url, response.status_code)
assert response.json() == {"suggestions": []}, response.json()
print("embedded default ok")
"""


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def embedded(tmp_path_factory) -> dict[str, str]:
    """The embedded default's environment, its SQLite database migrated once for this module."""
    path = tmp_path_factory.mktemp("embedded") / "db.sqlite3"
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(UNREACHABLE)
    env.update(
        DJANGO_SETTINGS_MODULE="shop.settings.local",
        SQLITE_PATH=str(path),
        ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
        CELERY_TASK_ALWAYS_EAGER="0",
    )
    migrate = _manage("migrate", "--noinput", env=env)
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    assert path.exists()
    return env


def test_embedded_default_migrates_caches_runs_lua_and_renders_home(embedded):
    smoke = _manage("shell", "-c", SMOKE, env=embedded)
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    assert "embedded default ok" in smoke.stdout


ONE_ID_ONCE = """
import uuid
from datetime import timedelta

from django.utils import timezone

from tracking.models import Event
from tracking.services import event_ingest

visitor, event_id, now = uuid.uuid4(), str(uuid.uuid4()), timezone.now()
first, second = (
    event_ingest(events=[{"event_id": event_id, "name": "page_view", "ts": ts.isoformat()}], visitor_id=visitor)
    for ts in (now - timedelta(minutes=5), now - timedelta(minutes=1))
)
assert (first.accepted, second.accepted, second.duplicates) == (1, 0, 1), (first, second)
assert Event.objects.filter(event_id=event_id).count() == 1
print("stored once")
"""


def test_embedded_default_stores_an_event_id_once_whatever_its_timestamp(embedded):
    run = _manage("shell", "-c", ONE_ID_ONCE, env=embedded)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "stored once" in run.stdout


DEMO_ORDERS = """
from shop.orders.models import Order
from tracking.models import Event

purchases = set(Event.objects.filter(name="purchase").values_list("properties__transaction_id", flat=True))
orders = set(Order.objects.values_list("number", flat=True))
assert purchases and purchases == orders, (len(purchases), len(orders))
print("orders", len(orders))
from merchandising.models import Coupon, Rule
assert Coupon.objects.filter(code="WELCOME10").exists() and Rule.objects.count() == 3
from segments.models import Membership, Segment
clusters = Segment.objects.filter(cluster__isnull=False)
assert clusters.count() >= 2 and Membership.objects.filter(segment__in=clusters).exists()
"""


def test_the_demo_setup_runs_embedded_and_its_purchases_are_orders(embedded):
    """What `make demo` runs before serving: the catalog, simulated shoppers, their clusters as
    segments; then every purchase is an order."""
    for step in (
        ("seed_demo", "--products", "120", "--shoppers", "3"),
        ("seed_merchandising",),
        ("simulate_shoppers", "--visitors", "40", "--users", "3"),
        ("recluster",),
    ):
        done = _manage(*step, env={**embedded, "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend"})
        assert done.returncode == 0, done.stdout + done.stderr
    check = _manage("shell", "-c", DEMO_ORDERS, env=embedded)
    assert check.returncode == 0, check.stdout + check.stderr
