"""The embedded default: with no Postgres or Redis in reach, the shop runs on SQLite, fakeredis and eager tasks."""

import os
import subprocess
import sys
from pathlib import Path

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


def test_embedded_default_migrates_caches_runs_lua_and_renders_home(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(UNREACHABLE)
    env.update(
        DJANGO_SETTINGS_MODULE="shop.settings.local",
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
        ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
        CELERY_TASK_ALWAYS_EAGER="0",
    )

    migrate = _manage("migrate", "--noinput", env=env)
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    assert (tmp_path / "db.sqlite3").exists()

    smoke = _manage("shell", "-c", SMOKE, env=env)
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    assert "embedded default ok" in smoke.stdout
