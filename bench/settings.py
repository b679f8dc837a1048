"""Production settings for loopback benchmarks: a throwaway database and Redis db, rate limits out of the way."""

import os

from django.core.exceptions import ImproperlyConfigured

# production.py insists on these two; a loopback benchmark needs neither a real secret nor real hosts.
os.environ.setdefault("SECRET_KEY", "bench-placeholder")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1")

from shop.settings.production import *  # noqa: F403
from shop.settings.production import CACHES, database_config, env

SECRET_KEY = "bench-only-throwaway-key-never-used-outside-loopback-benchmarks"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
ROOT_URLCONF = "bench.urls"
# The benchmarks post events and call /bench/noop; no page is rendered, so no manifest is needed.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

BENCH_DATABASE_URL = env("BENCH_DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/shop_bench")
DATABASES = {"default": database_config(BENCH_DATABASE_URL)}
if not DATABASES["default"]["NAME"].startswith("shop_bench"):
    # bench/_server.py drops and recreates this database on every run.
    raise ImproperlyConfigured("BENCH_DATABASE_URL must name a throwaway database called shop_bench*")

# db 13: not the demo's (0), Celery's (1) nor the tests' (14, 15); flushed by every bench run.
BENCH_REDIS_URL = env("BENCH_REDIS_URL", default="redis://127.0.0.1:6379/13")
CACHES = {"default": {**CACHES["default"], "LOCATION": BENCH_REDIS_URL, "KEY_PREFIX": "shopbench"}}
CELERY_BROKER_URL = env("BENCH_CELERY_BROKER_URL", default="redis://127.0.0.1:6379/12")

# The limiter still runs (its Redis round trip is part of the cost) but never throttles: one
# loopback address sends every shopper's events, far past TRACKING_RATE_PER_IP and
# TRACKING_NEW_VISITORS_PER_IP.
TRACKING_RATE_PER_VISITOR = 10**9
TRACKING_RATE_PER_IP = 10**9
TRACKING_NEW_VISITORS_PER_IP = 10**9
