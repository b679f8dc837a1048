"""Gunicorn settings for the shop; each one can be overridden from the environment."""

import gc
import multiprocessing
import os

wsgi_app = "shop.wsgi:application"

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Two processes per core, two threads each. The collector is Python-bound: a worker's threads
# take turns at one interpreter lock, and every socket wait of a request (Postgres, Redis, the
# client) hands that lock over with futex calls and context switches. Measured on 2 cores
# (bench/collector_throughput.py, batches of 25, events/s): 2 workers x 8 threads 6,645-6,819,
# 2 x 4 7,618-8,413 (with worker recycling on); recycling off: 2 x 2 9,612, 3 x 2 9,136-10,768,
# 4 x 1 10,294-11,514, 4 x 2 10,408-11,121. Two threads still let a page overlap its waits.
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", 2))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 5))
# Worker recycling is off unless asked for: a recycled worker hands all its keep-alive
# connections to the others, so one process ends up with most of the load while the fresh one
# idles (seen under load as one worker's threads busy, the other's asleep). Set
# GUNICORN_MAX_REQUESTS to bound a leak if one is ever found; the jitter staggers restarts.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 0))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", 200))

# Import Django once in the master, then fork: faster worker starts, shared memory pages.
preload_app = True


def pre_fork(server, worker):
    """Put everything the master loaded out of the garbage collector's reach: a worker's
    collections then scan only what it made itself (requests), not Django's whole import
    graph, and no longer dirty the pages it shares with the master."""
    gc.freeze()


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
