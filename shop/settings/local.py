"""Developer and demo settings: real Postgres and Redis when reachable, else the embedded default."""

from .base import *  # noqa: F403
from .base import BASE_DIR, CELERY_BROKER_URL, DATABASE_URL, REDIS_URL, env
from .embedded import postgres_database_ready, redis_ready

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="local-only-insecure-key")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

EMBEDDED_DATABASE = not postgres_database_ready(DATABASE_URL)
if EMBEDDED_DATABASE:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(env.path("SQLITE_PATH", default=BASE_DIR / "db.sqlite3")),
            "OPTIONS": {"timeout": 20},
        }
    }

EMBEDDED_REDIS = not redis_ready(REDIS_URL)
if EMBEDDED_REDIS:
    from fakeredis import FakeConnection

    # fakeredis keeps one store per host:port inside this process and runs Lua through
    # lupa, so the code that talks to Redis is the same code either way.
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://embedded:6379/0",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "CONNECTION_POOL_KWARGS": {"connection_class": FakeConnection},
            },
            "KEY_PREFIX": "shop",
        }
    }

    # One process serves the demo's pages and sockets (uvicorn), so an in-process layer reaches them all.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

if EMBEDDED_REDIS or not redis_ready(CELERY_BROKER_URL):
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
    # No beat to drain what a quiet demo's last batch journaled: every batch drains its own.
    SEGMENTS_JOURNAL_ROWS = 1
