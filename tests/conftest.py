"""Shared fixtures: real Postgres and Redis, a clean Redis database per test, no outbound network."""

import os
import socket

import pytest
from django_redis import get_redis_connection
from hypothesis import settings as hypothesis_settings

# One uvicorn for the session, whoever asks first: two would share this process's channel layer
# from two event loops, which channels_redis refuses.
from tests.live_server import live_asgi, visitor  # noqa: F401

# Property tests draw new cases on every run; in CI that would let any submission fail on a
# case its change never touched. CI replays the same cases each run (derandomize, no example
# database); `make fuzz` draws fresh ones, many more, to find what the fixed cases miss. Each
# profile says derandomize outright: Hypothesis loads its own "ci" profile when it sees CI, and
# a profile registered then would inherit from it.
hypothesis_settings.register_profile("dev", max_examples=200, derandomize=False)
hypothesis_settings.register_profile("ci", max_examples=200, derandomize=True, database=None, print_blob=True)
hypothesis_settings.register_profile("fuzz", max_examples=5000, derandomize=False, print_blob=True)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev")
)

_LOCAL_HOSTS = {"127.0.0.1", "::1", "localhost"}
_real_connect = socket.socket.connect


def _guarded_connect(self, address):
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and host not in _LOCAL_HOSTS:
        raise RuntimeError(f"Tests must not reach the network (tried {address!r}).")
    return _real_connect(self, address)


@pytest.fixture(autouse=True, scope="session")
def _block_outbound_network():
    socket.socket.connect = _guarded_connect
    yield
    socket.socket.connect = _real_connect


@pytest.fixture(autouse=True)
def _fresh_process_copies():
    """Each test reads the segment definitions, timer rules and department menu it made, never a
    copy an earlier test left in this process for the seconds those copies live."""
    from merchandising.timers import timer_rules_forget
    from segments.services import catalogue_forget
    from shop.catalog.navigation import navigation_forget

    forgets = (catalogue_forget, timer_rules_forget, navigation_forget)
    for forget in forgets:
        forget()
    yield
    for forget in forgets:
        forget()


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts from an empty test Redis database (db 15, never the demo's)."""
    connection = get_redis_connection("default")
    connection.flushdb()
    yield
    connection.flushdb()


@pytest.fixture
def redis_round_trips(monkeypatch):
    """Counts the commands (or pipelines) sent to Redis from here on: one list entry a round trip."""
    from redis.connection import Connection

    sent: list = []
    original = Connection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", counting)
    return sent


@pytest.fixture
def staff_client(client):
    from tests.factories.accounts import StaffFactory

    client.force_login(StaffFactory())
    return client


@pytest.fixture
def celery_eager():
    """Run tasks in-process for the one test that asks; the rest use the real broker."""
    from shop.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous
