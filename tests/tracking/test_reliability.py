"""The collector under trouble: Postgres restarted mid-load, Redis away, and fuzzed input."""

import contextlib
import datetime
import fcntl
import http.client
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from io import StringIO
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bench._server import USER_AGENT, Gunicorn, free_port
from personalization.profiles import profile_owner, profile_read
from shop import keyspace
from tests.factories.catalog import ProductFactory
from tracking.identity import VISITOR_COOKIE
from tracking.models import Event, RejectedEvent
from tracking.registry import BOOL, INT, LIST, NUM, REGISTRY, STR

ORIGIN = "http://testserver"
# Every loop below is bounded by these, well inside the ~30 s each test may take.
LOAD_SECONDS = 25
SERVICE_WAIT_SECONDS = 30


def now_ms() -> int:
    return int(time.time() * 1000)


def _post(client, body, **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(
        reverse("tracking:collect"), data=data, content_type="application/json", HTTP_ORIGIN=ORIGIN, **extra
    )


@pytest.fixture
def consented(client):
    assert client.post(reverse("tracking:consent"), {"choice": "granted"}).status_code == 302
    return client


@pytest.fixture
def no_rate_limit(settings):
    """Hundreds of batches from one visitor are the point here, not abuse."""
    settings.TRACKING_RATE_PER_VISITOR = 10**9
    settings.TRACKING_RATE_PER_IP = 10**9
    settings.TRACKING_NEW_VISITORS_PER_IP = 10**9


# ---- a. Postgres restarted in the middle of a load run ----

PG_CTLCLUSTER = shutil.which("pg_ctlcluster")


def _cluster_version() -> str:
    versions = [path.name for path in Path("/etc/postgresql").iterdir() if path.is_dir()]
    return max(versions, key=lambda version: [int(part) for part in re.findall(r"\d+", version)])


def _database_url(name: str | None = None) -> str:
    config = connection.settings_dict
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    return (
        f"postgres://{config.get('USER') or 'postgres'}{password}@{config.get('HOST') or '127.0.0.1'}:"
        f"{config.get('PORT') or 5432}/{name or config['NAME']}"
    )


def _postgres_wait(url: str, *, seconds: float = SERVICE_WAIT_SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(url, connect_timeout=1):
                return True
        except psycopg.OperationalError:
            time.sleep(0.2)
    return False


def _wait_until(condition, *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


class Shopper(threading.Thread):
    """Posts batches like the tracker: on a 503 or a broken connection the SAME batch (same event ids
    and timestamps) goes again after a growing pause, until a 202 or the deadline."""

    BATCH = 10

    def __init__(self, *, server: Gunicorn, stop: threading.Event, deadline: float):
        super().__init__(daemon=True)
        self.server, self.stop, self.deadline = server, stop, deadline
        self.cookie = f"ll_consent=granted; ll_vid={uuid.uuid4()}; ll_sid={uuid.uuid4()}"
        self.acknowledged: list[str] = []  # event ids answered 202
        self.sent: list[str] = []  # every event id ever put on the wire
        self.reported = 0  # accepted + duplicates, summed over the 202 answers
        self.statuses: Counter = Counter()
        self.unexpected: list[tuple[int, bytes]] = []
        self.abandoned = 0
        self.conn: http.client.HTTPConnection | None = None

    def _send(self, body: bytes) -> tuple[int, bytes]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        headers = {
            "Content-Type": "application/json",
            "Origin": self.server.origin,
            "Cookie": self.cookie,
            "User-Agent": USER_AGENT,
        }
        self.conn.request("POST", "/t/collect", body=body, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def run(self) -> None:
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            ts = now_ms()
            events = [
                {"event_id": str(uuid.uuid4()), "name": "page_view", "ts": ts - n, "props": {"page_location": "/"}}
                for n in range(self.BATCH)
            ]
            ids = [event["event_id"] for event in events]
            body = json.dumps({"sent_at": ts, "events": events}).encode()
            self.sent += ids
            pause = 0.05
            while True:
                if time.monotonic() > self.deadline:
                    self.abandoned += 1
                    return
                try:
                    status, data = self._send(body)
                except (OSError, http.client.HTTPException):
                    if self.conn is not None:
                        self.conn.close()
                    self.conn = None
                    self.statuses["connection error"] += 1
                else:
                    self.statuses[status] += 1
                    if status == 202:
                        answer = json.loads(data)
                        self.reported += answer["accepted"] + answer["duplicates"]
                        self.acknowledged += ids
                        break
                    if status != 503:
                        self.unexpected.append((status, data[:2000]))
                time.sleep(pause)
                pause = min(pause * 2, 0.5)


@contextlib.contextmanager
def _restart_turn(seconds: float = 60):
    """One Postgres restart at a time on this machine: two suites running this test at once would
    restart the cluster under each other's feet."""
    with open(Path(tempfile.gettempdir()) / "shop-test-postgres-restart.lock", "w") as handle:
        deadline = time.monotonic() + seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.skip("another run on this machine is restarting Postgres")
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pg_restart_skip_reason() -> str | None:
    if PG_CTLCLUSTER is None or not Path("/etc/postgresql").is_dir():
        return "needs pg_ctlcluster (Debian's postgresql-common) to restart Postgres"
    if os.geteuid() != 0:
        return "restarting the Postgres cluster needs root"
    return None


@pytest.mark.skipif(_pg_restart_skip_reason() is not None, reason=_pg_restart_skip_reason() or "")
@pytest.mark.django_db(transaction=True)
def test_postgres_restart_under_load_loses_nothing_and_stores_nothing_twice():
    """gunicorn (the shipped config: persistent connections with health checks, gthread workers) on the
    test database; two shoppers post batches and resend on 503 while the cluster restarts."""
    if connection.settings_dict.get("HOST") not in ("127.0.0.1", "localhost", "::1", ""):
        pytest.skip("the test database is not this machine's Postgres cluster")
    url = _database_url()
    environment = {
        "DATABASE_URL": url,
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "2",
        "TRACKING_RATE_PER_VISITOR": str(10**9),
        "TRACKING_RATE_PER_IP": str(10**9),
    }
    restart = None
    with _restart_turn(), Gunicorn(settings="shop.settings.test", environment=environment) as server:
        stop = threading.Event()
        shoppers = [Shopper(server=server, stop=stop, deadline=time.monotonic() + LOAD_SECONDS) for _ in range(2)]

        def acknowledged() -> int:
            return sum(len(shopper.acknowledged) for shopper in shoppers)

        for shopper in shoppers:
            shopper.start()
        try:
            assert _wait_until(lambda: acknowledged() >= 100, seconds=10), "no load got through before the restart"
            restart = subprocess.run(
                [PG_CTLCLUSTER, "--skip-systemctl-redirect", _cluster_version(), "main", "restart"],
                capture_output=True,
                text=True,
                timeout=SERVICE_WAIT_SECONDS,
            )
            before = acknowledged()
            _wait_until(lambda: acknowledged() >= before + 100, seconds=15)
        finally:
            stop.set()
            for shopper in shoppers:
                shopper.join(15)
            # Whatever happened above, leave Postgres answering for the rest of the suite.
            if not _postgres_wait(url, seconds=5):
                subprocess.run(
                    [PG_CTLCLUSTER, "--skip-systemctl-redirect", _cluster_version(), "main", "start"],
                    capture_output=True,
                    timeout=SERVICE_WAIT_SECONDS,
                )
                assert _postgres_wait(url), "Postgres did not come back after the restart"
        server_log = server.log_problems(200)
    connection.close()  # this process's own connection died with the restart; the flush after the test needs one

    assert restart is not None and restart.returncode == 0, restart.stderr if restart else "no restart"
    statuses = sum((shopper.statuses for shopper in shoppers), Counter())
    unexpected = [item for shopper in shoppers for item in shopper.unexpected]
    assert not unexpected, f"answers other than 202/503 during the restart: {unexpected[:3]}\n{server_log}"
    assert statuses[503] + statuses["connection error"] > 0, f"the restart never reached the collector: {statuses}"
    assert not any(shopper.abandoned for shopper in shoppers), f"batches never acknowledged: {statuses}"

    acknowledged_ids = Counter(event_id for shopper in shoppers for event_id in shopper.acknowledged)
    sent_ids = {event_id for shopper in shoppers for event_id in shopper.sent}
    stored = Counter(str(event_id) for event_id in Event.objects.values_list("event_id", flat=True))
    assert acknowledged_ids and max(acknowledged_ids.values()) == 1
    assert not [event_id for event_id, count in stored.items() if count > 1], "an event was stored twice"
    assert set(acknowledged_ids) - set(stored) == set(), "an event answered 202 is missing"
    assert set(stored) <= sent_ids
    assert sum(shopper.reported for shopper in shoppers) == len(acknowledged_ids)


# ---- b. Redis away: events still stored, pages still render, profiles catch up ----


class OwnRedis:
    """A redis-server of this test's own on a free port, to kill and start again (never the shared 6379)."""

    def __init__(self, directory: Path):
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        probe = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        assert _wait_until(lambda: self._answers(probe), seconds=SERVICE_WAIT_SECONDS), "own redis-server did not start"

    @staticmethod
    def _answers(probe) -> bool:
        try:
            return bool(probe.ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(SERVICE_WAIT_SECONDS)


@pytest.fixture
def own_redis(tmp_path):
    """Django's cache (sessions, profiles, rate limits) pointed at our own Redis for one test.

    override_settings(CACHES=...) makes Django drop its cache handlers (django.test.signals), so
    get_redis_connection() builds a client for the new LOCATION; django_redis keys its connection
    pools by URL, so the shared pool is untouched.
    """
    if shutil.which("redis-server") is None:
        pytest.skip("needs the redis-server binary")
    server = OwnRedis(tmp_path)
    server.start()
    caches = {"default": {**settings.CACHES["default"], "LOCATION": server.url}}
    try:
        with override_settings(CACHES=caches):
            yield server
    finally:
        server.kill()


def _view_item(product_id: int) -> dict:
    return {"event_id": str(uuid.uuid4()), "name": "view_item", "ts": now_ms(), "product_id": product_id}


@pytest.mark.django_db
def test_redis_down_events_still_stored_pages_still_render_profiles_catch_up(own_redis, consented):
    seen_before, seen_while_down = ProductFactory(), ProductFactory()
    owner = profile_owner(visitor_id=uuid.UUID(consented.cookies[VISITOR_COOKIE].value), user_id=None)
    assert _post(consented, {"events": [_view_item(seen_before.pk)]}).status_code == 202
    # The override took: the profile lives in our own Redis.
    assert redis.Redis.from_url(own_redis.url).exists(keyspace.profile_key(owner, "recent"))
    assert profile_read(owner=owner).recent == [seen_before.pk]

    own_redis.kill()
    began = time.monotonic()
    response = _post(consented, {"events": [_view_item(seen_while_down.pk)]})
    collect_seconds = time.monotonic() - began
    assert response.status_code == 202, response.content
    assert response.json()["accepted"] == 1
    assert Event.objects.filter(product_id=seen_while_down.pk, name="view_item").count() == 1
    assert collect_seconds < 5, f"the collector took {collect_seconds:.1f} s with Redis down"
    for url in (reverse("home"), seen_while_down.get_absolute_url(), reverse("orders:cart")):
        assert consented.get(url).status_code == 200, url

    own_redis.start()  # back, but empty: the profile missed the event
    assert profile_read(owner=owner).recent == []
    call_command("rebuild_profiles", stdout=StringIO(), stderr=StringIO())
    assert profile_read(owner=owner).recent == [seen_while_down.pk, seen_before.pk]


# ---- c. Fuzzing the collector: garbage in, a 4xx or a 202 with reasons out, never a 500 ----

# Text of every kind but lone surrogates, which the fuzz leaves to the known-bug tests below.
NASTY_TEXT = st.sampled_from(
    [
        "",
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "\x00",
        "a\x00b",
        "💥" * 20,
        "\u202eevil",
        "\ufeff",
        "x" * 501,
        "x" * 5000,
        "' OR 1=1 --",
        "%s%s%n",
        "NaN",
        "shopper@example.com",
        "+44 20 7946 0958",
        "2024-02-30T25:61:00",
    ]
)
TEXT = st.one_of(st.text(max_size=30), st.text(st.characters(codec="utf-8"), min_size=490, max_size=510), NASTY_TEXT)
KEY = st.one_of(st.text(max_size=20), st.just("__proto__"), st.just("a\x00"), st.just("\ud800"))
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([2**63, 2**64, -1, 0, 10**300]),
    st.floats(allow_nan=True, allow_infinity=True),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
# A placeholder that _deepen() turns into [[[...]]] after serialising: nesting deeper than json.dumps allows.
DEEP = st.integers(min_value=1, max_value=3000).map(lambda depth: f"@@DEEP{depth}@@")
ANY_JSON = st.recursive(
    st.one_of(SCALARS, DEEP),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEY, children, max_size=4),
    max_leaves=10,
)
# Epoch milliseconds and ISO text from year 2 to 9998, close to now and far from it.
TIMESTAMPS = st.one_of(
    st.integers(min_value=-(10**15), max_value=10**15),
    st.integers(min_value=-30 * 86_400_000, max_value=30 * 86_400_000).map(lambda offset: now_ms() + offset),
    st.datetimes(min_value=datetime.datetime(2, 1, 1), max_value=datetime.datetime(9998, 1, 1)).map(
        datetime.datetime.isoformat
    ),
    st.sampled_from(["2024-01-01", "yesterday", "", "2024-13-01T00:00:00Z", "1e3", math.nan, math.inf, True]),
)
SENT_AT = st.one_of(
    st.none(),
    st.integers(min_value=-30 * 86_400_000, max_value=30 * 86_400_000).map(lambda offset: now_ms() + offset),
    st.sampled_from(["9999-12-31T00:00:00", "0001-01-01T00:00:00"]),
    st.sampled_from([math.nan, math.inf, -math.inf, True, "soon", {}, []]),
)
ITEM = st.fixed_dictionaries(
    {"item_id": st.integers(1, 10**6)},
    optional={"quantity": st.integers(1, 5), "price": st.floats(0, 1000), "item_name": st.text(max_size=20)},
)
VALID = {
    STR: st.one_of(st.text(max_size=30), NASTY_TEXT),
    INT: st.integers(min_value=0, max_value=10**6),
    NUM: st.one_of(st.integers(0, 10**6), st.floats(0, 10**6)),
    BOOL: st.booleans(),
    LIST: st.lists(ITEM, max_size=3),
}
# What a broken field may become instead: any JSON at all, or the right type at its extremes.
BROKEN = st.one_of(ANY_JSON, NUMBERS, TEXT, st.lists(st.dictionaries(KEY, SCALARS, max_size=3), max_size=60))
FIELDS = ["event_id", "name", "ts", "product_id", "category_id", "props"]


@st.composite
def events(draw):
    """A registry event as the tracker would send it, then up to three things about it broken."""
    name = draw(st.sampled_from(sorted(REGISTRY)))
    spec = REGISTRY[name]
    props = {key: draw(VALID[kind]) for key, kind in spec.required.items()}
    props |= {key: draw(VALID[kind]) for key, kind in spec.optional.items() if draw(st.booleans())}
    event = {"event_id": str(draw(st.uuids())), "name": name, "ts": now_ms() - draw(st.integers(0, 60_000))}
    if props or draw(st.booleans()):
        event["props"] = props
    if spec.needs_product or draw(st.booleans()):
        event["product_id"] = draw(st.integers(min_value=1, max_value=10**6))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        if not isinstance(event, dict):
            break
        damage = draw(st.sampled_from(["field", "name", "ts", "prop", "prop_key", "extra", "drop", "whole"]))
        if damage == "field":
            event[draw(st.sampled_from(FIELDS))] = draw(BROKEN)
        elif damage == "name":
            event["name"] = draw(st.one_of(KEY, st.sampled_from(["purchase", "login", "PAGE_VIEW"])))
        elif damage == "ts":
            event["ts"] = draw(TIMESTAMPS)
        elif damage == "prop" and isinstance(event.get("props"), dict) and event["props"]:
            event["props"][draw(st.sampled_from(sorted(event["props"])))] = draw(BROKEN)
        elif damage == "prop_key" and isinstance(event.get("props"), dict):
            event["props"][draw(st.one_of(KEY, st.sampled_from(["email", "Phone", "items", "value"])))] = draw(BROKEN)
        elif damage == "extra":
            event[draw(KEY)] = draw(ANY_JSON)
        elif damage == "drop":
            event.pop(draw(st.sampled_from(FIELDS)), None)
        elif damage == "whole":
            event = draw(ANY_JSON)
    return event


def _deepen(text: str) -> str:
    return re.sub(r'"@@DEEP(\d+)@@"', lambda match: "[" * int(match[1]) + "]" * int(match[1]), text)


def _serialised(batch) -> bytes:
    return _deepen(json.dumps(batch, allow_nan=True)).encode()


BATCHES = st.builds(
    lambda sent_at, items: {**({"sent_at": sent_at} if sent_at is not None else {}), "events": items},
    SENT_AT,
    st.lists(events(), min_size=1, max_size=8),
)
GARBAGE = st.one_of(
    BATCHES.map(_serialised).flatmap(lambda body: st.integers(0, len(body)).map(lambda cut: body[:cut])),
    st.builds(lambda batch, extra: {**extra, **batch}, BATCHES, st.dictionaries(KEY, ANY_JSON, max_size=2)).map(
        _serialised
    ),
    ANY_JSON.map(_serialised),
    st.binary(max_size=300),
    st.sampled_from(
        [
            b'{"events": [NaN, Infinity, -Infinity]}',
            b'{"events": [{"name": "page_view", "event_id": "\xff\xfe", "ts": 1}]}',
            b'{"events": [' + b"[" * 50_000 + b"]" * 50_000 + b"]}",
            b'{"events": [{}], "events": 3}',
            b'{"events": []}',
            b"\xef\xbb\xbf{}",
            b'{"events": ["' + b"x" * 70_000 + b'"]}',
        ]
    ),
)
# Mostly batches the validator has to read event by event; the rest fails before it.
BODIES = st.one_of(BATCHES.map(_serialised), BATCHES.map(_serialised), BATCHES.map(_serialised), GARBAGE)


def _uuid_text(value) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


@pytest.mark.django_db
@hypothesis_settings(
    deadline=None,
    # The client, database and settings fixtures are reset by hand inside each example.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(body=BODIES)
def test_fuzzed_batches_get_a_4xx_or_a_202_with_reasons_and_rejected_events_are_not_stored(
    consented, no_rate_limit, body
):
    Event.objects.all().delete()
    RejectedEvent.objects.all().delete()
    response = _post(consented, body)
    assert response.status_code == 202 or 400 <= response.status_code < 500, (response.status_code, response.content)
    answer = response.json()
    stored = {str(event_id) for event_id in Event.objects.values_list("event_id", flat=True)}
    if "rejected" not in answer:
        assert answer.get("error"), answer
        assert not stored and not RejectedEvent.objects.exists()
        return
    assert Event.objects.count() == answer["accepted"]
    assert RejectedEvent.objects.count() == len(answer["rejected"])
    assert all(item["reason"] for item in answer["rejected"])
    raw_events = json.loads(body)["events"]
    rejected = {item["index"] for item in answer["rejected"]}
    ids_rejected, ids_kept = set(), set()
    for index, raw in enumerate(raw_events):
        event_id = _uuid_text(raw.get("event_id")) if isinstance(raw, dict) else None
        (ids_rejected if index in rejected else ids_kept).add(event_id)
    assert stored <= ids_kept
    assert not stored & (ids_rejected - ids_kept), "an event the collector rejected was stored"


@pytest.mark.django_db
def test_nesting_around_the_recursion_limit_is_refused_not_crashed(consented, no_rate_limit):
    """Nesting that json.loads just manages, a few frames short of what str()/json.dumps need later."""
    limit = sys.getrecursionlimit()
    for depth in range(limit - 200, limit + 5):
        nested = "[" * depth + "]" * depth
        for template in ('{"events": [{"name": %s}]}', '{"events": [{"name": "page_view", "props": %s}]}'):
            response = _post(consented, template % nested)
            assert response.status_code == 202 or 400 <= response.status_code < 500, (depth, response.status_code)
    assert not Event.objects.exists()


def _one(event: dict, **batch) -> str:
    return json.dumps({**batch, "events": [{"event_id": str(uuid.uuid4()), "ts": now_ms(), **event}]})


# Inputs the fuzzer once turned into a 500, or a 503 that a tracker would resend forever.
HOSTILE = {
    # 500, UnicodeEncodeError in psycopg: the RejectedEvent row carries the lone surrogate.
    "surrogate_in_unknown_name": _one({"name": "\ud800"}),
    # 500, UnicodeEncodeError: payload_excerpt keeps the surrogate of a bad event_id.
    "surrogate_in_bad_event_id": _one({"name": "page_view", "event_id": "\ud800"}),
    # 503 (DataError: jsonb refuses \ud800) for a valid-looking event: the tracker resends it forever.
    "surrogate_in_property": _one({"name": "search", "props": {"search_term": "\ud83d"}}),
    # 503 (DataError: NUL in RejectedEvent.detail) from an unknown property key: resent forever.
    "nul_in_unknown_property_key": _one({"name": "page_view", "props": {"a\x00": "x"}}),
    # 503 (DataError: NUL in RejectedEvent.name) from an unknown event name: resent forever.
    "nul_in_unknown_name": _one({"name": "nope\x00"}),
    # 500, OverflowError in event_validate: client_ts + skew leaves datetime's range.
    "sent_at_far_future": _one({"name": "page_view"}, sent_at="9999-12-31T00:00:00"),
    "sent_at_far_past": _one({"name": "page_view", "ts": "9999-01-01T00:00:00"}, sent_at="0001-01-01T00:00:00"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_inputs_found_by_fuzzing_get_a_4xx_or_a_202(consented, case):
    response = _post(consented, HOSTILE[case])
    assert response.status_code == 202 or 400 <= response.status_code < 500, response.status_code
