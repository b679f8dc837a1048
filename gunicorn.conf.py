"""Gunicorn settings for the shop; each one can be overridden from the environment."""

import multiprocessing
import os

wsgi_app = "shop.wsgi:application"

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# One process per core, each with threads that overlap their waits on Postgres and Redis.
# Measured on 2 cores with the collector (bench/collector_throughput.py, batches of 25) in one
# run: 5 workers x 2 threads 131 requests/s, 3 x 4 157, 2 x 8 171; fewer processes also
# means less CPU per request spent switching between them.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", 8))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 5))
# Restart workers now and then so a slow leak cannot grow without bound; jitter keeps
# them from restarting all at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 2000))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", 200))

# Import Django once in the master, then fork: faster worker starts, shared memory pages.
preload_app = True

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'

# Heartbeat files on tmpfs: a container's overlay filesystem can stall them.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108

# The TLS proxy in front sets X-Forwarded-Proto; Django trusts it via SECURE_PROXY_SSL_HEADER.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# No runtime control socket: its default path under $HOME is shared by every gunicorn of
# the same user, and the image's app user has no writable home.
control_socket_disable = True
