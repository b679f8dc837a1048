"""Every setting of the shop, read from the environment; other modules only override."""

import ipaddress
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF

from shop.keyspace import CHANNEL_LAYER_PREFIX

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A developer's .env is read when present; deployments set real environment variables.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="insecure-dev-key-change-me")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "shop.admin_config.ShopAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "shop",
    "shop.catalog",
    "shop.orders",
    "shop.accounts",
    "tracking",
    "personalization",
    "segments",
    "experiments",
    "merchandising",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "tracking.middleware.TrackingMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as axes asks: it turns a login refused for too many failures into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"
ASGI_APPLICATION = "shop.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "shop.context_processors.storefront",
            ],
        },
    },
]

DATABASE_URL = env("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/shop")
# psycopg prepares a statement on a connection once it has run this many times; Django turns
# that off unless asked, for poolers in transaction mode. Parsing and planning the collector's
# INSERT on every batch cost Postgres 0.71 ms a batch instead of 0.51. Set "off" behind a
# pooler that cannot keep prepared statements (PgBouncer before 1.21).
DB_PREPARE_THRESHOLD = env("DB_PREPARE_THRESHOLD", default="5")


def database_config(url: str) -> dict:
    """Django's settings for the Postgres database at url, with the shop's connection options."""
    config = env.db_url_config(url)
    config["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    config["CONN_HEALTH_CHECKS"] = True
    if config["ENGINE"] == "django.db.backends.postgresql":
        threshold = None if DB_PREPARE_THRESHOLD == "off" else int(DB_PREPARE_THRESHOLD)
        config["OPTIONS"] = {**config.get("OPTIONS", {}), "prepare_threshold": threshold}
    return config


DATABASES = {"default": database_config(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            # A page must still render when Redis is away; the cache is not the record.
            "IGNORE_EXCEPTIONS": True,
            "SOCKET_CONNECT_TIMEOUT": 1,
            "SOCKET_TIMEOUT": 1,
        },
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="shop"),
    }
}
DJANGO_REDIS_IGNORE_EXCEPTIONS = True
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

# Sessions hold the anonymous cart id: cached in Redis, durable in the database.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_AGE = 60 * 60 * 24 * 30

# Axes first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="shop@example.com")

SHOP_NAME = env("SHOP_NAME", default="Larder & Loom")
# The password seed_demo gives the demo superuser "admin"; set it on any shared machine.
DEMO_ADMIN_PASSWORD = env("DEMO_ADMIN_PASSWORD", default="admin")
SHOP_CURRENCY = env("SHOP_CURRENCY", default="GBP")
# Pagination of listings: 24 fills a 2-, 3- and 4-column grid evenly.
CATALOG_PAGE_SIZE = env.int("CATALOG_PAGE_SIZE", default=24)
# Type-ahead requests one address may make per minute: the search box asks at most every 150 ms
# while someone types (a few a second at most), so a household or office sharing an address stays
# well under; a script walking the catalogue through it does not.
CATALOG_SUGGESTIONS_PER_IP = env.int("CATALOG_SUGGESTIONS_PER_IP", default=300)
# Orders above this quantity of one product look like a typo or abuse, not a shopper.
CART_MAX_QUANTITY = env.int("CART_MAX_QUANTITY", default=99)
# Anonymous carts untouched for this many days are swept by the beat schedule.
CART_ANONYMOUS_TTL_DAYS = env.int("CART_ANONYMOUS_TTL_DAYS", default=30)

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/1")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 60 * 30
CELERY_TASK_SOFT_TIME_LIMIT = 60 * 25
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Seconds a web request that queues a task waits for a broker that went away: a checkout with
# Redis down answered in 2.3 s at 1, in 6.3 s at kombu's default of 4. Redis connects in ms.
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    # Order mails the broker or the mail server could not take at checkout go within a minute.
    "orders-notifications-send-pending": {
        "task": "shop.orders.tasks.order_notifications_send_pending",
        "schedule": crontab(minute="*"),
    },
    "orders-purge-abandoned-carts": {
        "task": "shop.orders.tasks.carts_purge_abandoned",
        "schedule": crontab(hour=3, minute=15),
    },
    # Words of new or renamed products become corrections ("did you mean") within ten minutes;
    # searching them works at once (full-text search reads the products themselves).
    "catalog-search-words-refresh": {
        "task": "shop.catalog.tasks.search_words_refresh_task",
        "schedule": crontab(minute="*/10"),
    },
    "tracking-partitions-prepare": {
        "task": "tracking.tasks.partitions_prepare",
        "schedule": crontab(hour=2, minute=5),
    },
    "tracking-events-purge-expired": {
        "task": "tracking.tasks.events_purge_expired",
        "schedule": crontab(hour=2, minute=35),
    },
    "tracking-volume-check": {
        "task": "tracking.tasks.volume_check",
        "schedule": crontab(minute=7),
    },
    # Erasures whose Redis keys or model versions could not be cleaned at once (Redis away, a
    # worker down): often enough that a person is forgotten within minutes of Redis answering.
    "personalization-erasures-complete": {
        "task": "personalization.tasks.erasures_complete",
        "schedule": crontab(minute="*/5"),
    },
    # Trending moves within the day; neighbour models change slowly and cost more.
    "personalization-retrain-trending": {
        "task": "personalization.tasks.model_retrain",
        "schedule": crontab(minute=20),
        "args": ("trending",),
    },
    **{
        f"personalization-retrain-{name}": {
            "task": "personalization.tasks.model_retrain",
            "schedule": crontab(hour=4, minute=offset),
            "args": (name,),
        }
        for offset, name in enumerate(("popularity", "itemknn", "session", "content"), start=1)
    },
}

# Live transitions reach the Postgres record in bulk: a batch drains the journal once it holds
# this many rows, or once its oldest has waited this long (beat drains it too, when traffic stops).
# A full chunk of the drain's (segments/record.py ROWS_PER_STATEMENT): half as many drains as at
# 500, each costing the process and Postgres about the same whatever its size.
SEGMENTS_JOURNAL_ROWS = env.int("SEGMENTS_JOURNAL_ROWS", default=1000)
SEGMENTS_JOURNAL_SECONDS = env.float("SEGMENTS_JOURNAL_SECONDS", default=1.0)

# Segments: due-times every few seconds, so a change with time alone lands within a minute of
# its moment; the sweep behind it only corrects what the live path missed.
CELERY_BEAT_SCHEDULE |= {
    "segments-due-fire": {"task": "segments.tasks.segments_due_fire_task", "schedule": 5.0},
    # What live batches left in the membership journal when traffic stops (segments/record.py).
    "segments-journal-drain": {"task": "segments.tasks.segments_journal_drain_task", "schedule": 2.0},
    "merchandising-timers-fire": {"task": "merchandising.tasks.rule_timers_fire_task", "schedule": 5.0},
    "segments-sweep": {"task": "segments.tasks.segments_sweep", "schedule": crontab(minute=40)},
    # Clusters describe weeks of behaviour: nightly, after the neighbour models, is fresh enough.
    "segments-recluster": {"task": "segments.tasks.clusters_recluster_task", "schedule": crontab(hour=4, minute=50)},
}

LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False}},
}

# Tracking: the collector's limits and what runs after each stored batch.
# What runs once events are stored or a visitor logs in (tracking/hooks.py), in this order:
# the hourly ingest counters, then the live profiles.
TRACKING_HOOKS = env.list(
    "TRACKING_HOOKS",
    default=[
        "tracking.analytics.quality.IngestCounters",
        "personalization.hooks.ProfileHook",
        # Segments re-checked on each batch (segments/hooks.py).
        "segments.hooks.SegmentHook",
        "experiments.exposures.ExposureHook",
        # Absence timers of merchandising rules set and cancelled (merchandising/timers.py).
        "merchandising.timers.TimerHook",
        "live.hooks.PushHook",
    ],
)
# The storefront's function that maps SKUs to (product id, category id) for import_events.
TRACKING_CATALOG_BY_SKU = "shop.catalog.selectors.products_by_sku"
# Origins allowed to post events besides this site's own hosts (a second storefront domain).
TRACKING_ALLOWED_ORIGINS = env.list("TRACKING_ALLOWED_ORIGINS", default=[])
# 100 events of ~400 bytes fit with room to spare; anything larger is not our tracker.
TRACKING_MAX_BODY_BYTES = env.int("TRACKING_MAX_BODY_BYTES", default=64 * 1024)
# Per minute: a busy shopper sends a few dozen events; a script in a loop sends thousands.
TRACKING_RATE_PER_VISITOR = env.int("TRACKING_RATE_PER_VISITOR", default=600)
TRACKING_RATE_PER_IP = env.int("TRACKING_RATE_PER_IP", default=6000)
TRACKING_RETENTION_DAYS = env.int("TRACKING_RETENTION_DAYS", default=400)
# Rejected events keep a (masked) raw payload for debugging a tracker: two weeks covers a
# release cycle's worth of looking into why events were refused, and keeps little of anyone.
TRACKING_REJECTED_RETENTION_DAYS = env.int("TRACKING_REJECTED_RETENTION_DAYS", default=14)
TRACKING_SESSION_MINUTES = 30

# Client addresses, login throttling and sign-up limits.
# Proxies (addresses or CIDRs) whose X-Forwarded-For is believed: behind them the client is the
# right-most forwarded hop that is not one of them. Empty trusts no one, so REMOTE_ADDR is the
# client; a header from anyone else is the client's own say-so and is ignored.
TRUSTED_PROXIES = [str(ipaddress.ip_network(entry, strict=False)) for entry in env.list("TRUSTED_PROXIES", default=[])]
# New visitor ids one address may bring to the collector per hour. A household sees a handful;
# an office or a mobile carrier's shared address may bring a few hundred shoppers of this one
# shop in an hour. A script minting an id per batch to dodge TRACKING_RATE_PER_VISITOR sends
# thousands. Visitors already seen from the address are not counted again.
TRACKING_NEW_VISITORS_PER_IP = env.int("TRACKING_NEW_VISITORS_PER_IP", default=300)
# Sign-up form posts one address may make per hour, taken or refused: a family signing up a few
# accounts, each sent back once or twice by the password rules, stays well under; a script
# probing which emails have accounts, or creating accounts in bulk, sends hundreds.
ACCOUNTS_SIGNUP_ATTEMPTS_PER_IP = env.int("ACCOUNTS_SIGNUP_ATTEMPTS_PER_IP", default=20)
# Password reset requests one address may make per hour, and reset mails one e-mail address may be
# sent per hour whoever asks: a shopper who mistypes or loses a mail asks two or three times; a
# script probing for accounts or filling someone's inbox asks hundreds. Both count every e-mail
# typed, account or not, so a refusal says nothing about which have accounts.
ACCOUNTS_PASSWORD_RESETS_PER_IP = env.int("ACCOUNTS_PASSWORD_RESETS_PER_IP", default=10)
ACCOUNTS_PASSWORD_RESETS_PER_EMAIL = env.int("ACCOUNTS_PASSWORD_RESETS_PER_EMAIL", default=3)
# A reset link works for this long (Django's default is three days; a mailbox read later by
# someone else should not still open the account).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT_MINUTES", default=120) * 60
# Order look-ups (order number and e-mail) one address may try per hour: a guest with a few
# orders and a typo or two stays far under; guessing a number and its e-mail takes millions.
ORDERS_LOOKUPS_PER_IP = env.int("ORDERS_LOOKUPS_PER_IP", default=20)
# Failed logins (django-axes, records in Postgres): one account from one address locks after
# AXES_FAILURE_LIMIT; one address, whatever the usernames, after LOGIN_FAILURE_LIMIT_PER_ADDRESS,
# higher because a household or office shares it. The lock lifts AXES_COOLOFF_TIME after the last
# failure. An account is never locked for every address: nobody can lock a shopper out from home.
AXES_HANDLER = "shop.accounts.lockout.LoginAttemptHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
LOGIN_FAILURE_LIMIT_PER_ADDRESS = env.int("LOGIN_FAILURE_LIMIT_PER_ADDRESS", default=30)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
# 15 minutes turns 2.5 guesses a second into 5 a quarter hour; a shopper who forgot waits a coffee.
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
# A refused try during the lockout does not push its end back, so "try again in N minutes" holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "shop.client_address.client_network"
AXES_LOCKOUT_CALLABLE = "shop.accounts.lockout.lockout_response"
# Failures are kept only while they count; successful logins are not logged with their address.
AXES_DISABLE_ACCESS_LOG = True

# Live profiles in Redis.
PROFILE_HALF_LIFE_DAYS = env.float("PROFILE_HALF_LIFE_DAYS", default=7.0)
PROFILE_RECENT_CAP = env.int("PROFILE_RECENT_CAP", default=20)
PROFILE_ANONYMOUS_TTL_DAYS = env.int("PROFILE_ANONYMOUS_TTL_DAYS", default=30)

# Recommenders: how much history trains them, and per-algorithm parameters.
RECOMMENDER_TRAINING_DAYS = env.int("RECOMMENDER_TRAINING_DAYS", default=180)
RECOMMENDER_PARAMS: dict[str, dict] = {}
RECOMMENDER_SERVED = ("trending", "itemknn", "content", "session", "popularity")
# Off fills every slot with the newest products instead of personalized ones: for comparison, or
# when something misbehaves.
PERSONALIZATION_ENABLED = env.bool("PERSONALIZATION_ENABLED", default=True)
# The stages that fill a page's slots, in order (personalization/serving/stages.py); a new
# step is a Stage subclass added here.
PERSONALIZATION_SLOT_STAGES = [
    # first: a slot under test takes its variant's settings before candidates are drawn
    "experiments.stages.ExperimentVariants",
    # the merchandiser's rules for this page and visitor (a rule may ask for a variant)
    "merchandising.stages.RulesDecide",
    "personalization.serving.stages.ModelCandidates",
    "personalization.serving.stages.SellableFilter",
    "personalization.serving.stages.Diversity",
    # excludes, boosts and buries before shelves are cut to size; pins once nothing moves them
    "merchandising.stages.RuleEffects",
    "personalization.serving.stages.Fallback",
    "personalization.serving.stages.Exploration",
    "merchandising.stages.RulePins",
    "personalization.serving.stages.Titles",
    # last: only what the page really shows counts as an exposure
    "experiments.stages.ExperimentExposures",
]

# Experiments. The global holdout: a share of visitors (percent) who never see personalization,
# the same visitors across every experiment, so the programme's own effect keeps being measured.
# Off until an operator chooses what revenue to spend on that measurement (5 is common).
EXPERIMENTS_HOLDOUT_PERCENT = env.float("EXPERIMENTS_HOLDOUT_PERCENT", default=0.0)
# Minutes between updates of the running bandits' shares: often enough to move traffic within
# the day a winner shows, rarely enough that a visitor seldom sees their arm change mid-visit.
EXPERIMENTS_BANDIT_UPDATE_MINUTES = env.int("EXPERIMENTS_BANDIT_UPDATE_MINUTES", default=60)
CELERY_BEAT_SCHEDULE |= {
    "experiments-bandits-update": {
        "task": "experiments.tasks.bandits_update_task",
        "schedule": EXPERIMENTS_BANDIT_UPDATE_MINUTES * 60.0,
    },
}

# The live channel (live/): tracker batches over a WebSocket and pushes to open pages, served by
# uvicorn beside gunicorn (Django Channels; the embedded default uses the in-memory layer).
INSTALLED_APPS += ["channels", "live"]
# The channel layer carries only wake-ups (at-most-once); pushes are kept in REDIS_URL's keys.
LIVE_CHANNEL_LAYER_URL = env("LIVE_CHANNEL_LAYER_URL", default=REDIS_URL)
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # A wake-up older than a few seconds is worthless: the page catches up from the log anyway.
        "CONFIG": {
            # channels_redis waits 5 s per blocking read; redis-py's own socket timeout is 5 s too,
            # and losing that race crashed every socket idle for 5 s. Longer, so the read wins.
            # redis-py 8 refuses a command past its pool's 100 connections instead of waiting: 300
            # sockets opening at once crashed consumers in group_add (bench/live_channel.py).
            "hosts": [{"address": LIVE_CHANNEL_LAYER_URL, "socket_timeout": 10, "max_connections": 1000}],
            "prefix": CHANNEL_LAYER_PREFIX,
            "expiry": 10,
            "capacity": 100,
        },
    }
}
# The tracker's socket: /ws/live on the page's own host (nginx sends it to uvicorn) unless this
# names another (make serve: uvicorn's own port). Its origin, not every ws: host, goes in each
# page's connect-src.
LIVE_SOCKET_URL = env("LIVE_SOCKET_URL", default="")
MIDDLEWARE.insert(MIDDLEWARE.index("csp.middleware.CSPMiddleware") + 1, "live.middleware.SocketOriginMiddleware")
# Frames one socket may send per second (and in a burst): the tracker sends a batch every 1.5 s
# at most, and a heartbeat every 25 s; a script in a loop sends thousands.
LIVE_FRAMES_PER_SECOND = env.float("LIVE_FRAMES_PER_SECOND", default=10.0)
LIVE_FRAME_BURST = env.int("LIVE_FRAME_BURST", default=30)
# A socket that says nothing (not even the tracker's 25 s heartbeat, which hidden pages stop) for
# this long is closed: a background tab holds no server memory, and resumes when shown again.
LIVE_IDLE_SECONDS = env.float("LIVE_IDLE_SECONDS", default=90.0)
# A push the client does not take within this many seconds closes its socket: a slow reader's
# backlog is bounded by the socket's write buffer, never grown.
LIVE_SEND_TIMEOUT_SECONDS = env.float("LIVE_SEND_TIMEOUT_SECONDS", default=5.0)
# Where uvicorn serves the live channel (python -m live.serve), beside gunicorn's 8000.
LIVE_BIND = env("LIVE_BIND", default="0.0.0.0:8001")
# Frames uvicorn reads ahead of the consumer per socket: with frames of at most twice
# TRACKING_MAX_BODY_BYTES, a client sending faster than its batches are stored holds 1 MB at
# most before TCP itself pushes back.
LIVE_WS_MAX_QUEUE = 8
# Called as hook(fired=[(visitor id, rule id, subject), ...]) after each round of absence timers
# fired (merchandising/timers.py), with those this round recorded first.
MERCHANDISING_FIRED_HOOKS = ["live.hooks.rules_fired"]
# Pushes kept per visitor for a reconnecting page, and for how long; an older gap is resynced
# with a fresh render instead of a replay.
LIVE_PUSH_KEEP = 50
LIVE_PUSH_KEEP_SECONDS = env.int("LIVE_PUSH_KEEP_SECONDS", default=600)

# Content-Security-Policy (django-csp: Django 5.2 has no policy of its own). Scripts, styles and
# images come from the shop's own origin only, so injected markup cannot load or run anything; the
# one kind of inline script, the pages' dataLayer pushes, carries the page's nonce. connect-src is
# the collector the tracker posts to, and its socket's origin, added per page (the live block
# above); frame-ancestors 'none' is X-Frame-Options' modern form.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        # data: so a stylesheet may inline a small icon; no other origin serves images.
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [SELF],
    },
}
