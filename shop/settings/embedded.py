"""Probes that decide whether the real services serve or the embedded default steps in."""

import socket
from urllib.parse import urlparse


def service_reachable(url: str, *, timeout: float = 0.5) -> bool:
    """Whether something listens at the host and port of a service URL."""
    parsed = urlparse(url)
    if not parsed.hostname:
        return False
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 0), timeout=timeout):
            return True
    except OSError:
        return False


def postgres_database_ready(url: str) -> bool:
    """Whether the database named in a Postgres URL exists and accepts us."""
    if not service_reachable(url):
        return False
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def redis_ready(url: str) -> bool:
    """Whether a Redis server answers PING at the URL."""
    if not service_reachable(url):
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False
