"""What the benchmarks share: a throwaway database, gunicorn on a free loopback port, a keep-alive load generator.

Everything here talks to 127.0.0.1 only, and every loop is bounded in time and count.
"""

import http.client
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tracking.payloads import raw_event

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = "bench.settings"
DATABASE_NAME = "shop_bench"
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/13"
# gunicorn imports Django once in the master (preload_app); 30 s is ample on a loaded 2-core box.
START_TIMEOUT = 30
STOP_TIMEOUT = 20
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url(name: str = DATABASE_NAME) -> str:
    return f"{POSTGRES_URL}/{name}"


def database_recreate(*, name: str = DATABASE_NAME) -> str:
    """A fresh, empty database for one run (the bench settings refuse any name but shop_bench*)."""
    import psycopg
    from psycopg import sql

    assert name.startswith(DATABASE_NAME), name
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_url(name)


def database_drop(*, name: str = DATABASE_NAME) -> None:
    import psycopg
    from psycopg import sql

    assert name.startswith(DATABASE_NAME), name
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def server_environment(
    *, settings: str = SETTINGS, name: str = DATABASE_NAME, extra: dict | None = None, root: Path = ROOT
) -> dict:
    """The environment both gunicorn and this process use: the bench settings, database and Redis db
    (root: the source tree the server runs, another commit's checkout for a baseline)."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings,
        "BENCH_DATABASE_URL": database_url(name),
        "BENCH_REDIS_URL": REDIS_URL,
        "LOG_LEVEL": "WARNING",
        **(extra or {}),
    }
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), environment.get("PYTHONPATH")]))
    return environment


def django_setup(*, settings: str = SETTINGS, name: str = DATABASE_NAME, extra: dict | None = None) -> None:
    """Point this process at the fresh bench database and Redis db, migrate, and empty the Redis db."""
    os.environ.update(server_environment(settings=settings, name=name, extra=extra))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from shop.keyspace import redis_client

    redis_client().flushdb()


def catalog_seed(*, products: int) -> list[int]:
    """A small catalog so view_item and impressions name real products (the profile hook looks them up)."""
    from decimal import Decimal

    from shop.catalog.models import Brand, Category, Department, Product

    department = Department.objects.create(name="Bench", slug="bench")
    categories = Category.objects.bulk_create(
        Category(department=department, name=f"Category {n}", slug=f"bench-category-{n}") for n in range(20)
    )
    brands = Brand.objects.bulk_create(Brand(name=f"Brand {n}", slug=f"bench-brand-{n}") for n in range(30))
    created = Product.objects.bulk_create(
        Product(
            sku=f"BENCH-{n:06d}",
            slug=f"bench-product-{n}",
            title=f"Bench product {n}",
            category=categories[n % len(categories)],
            brand=brands[n % len(brands)],
            price=Decimal("9.99") + n,
            stock=100,
        )
        for n in range(products)
    )
    return [product.pk for product in created]


def redis_flush() -> None:
    from shop.keyspace import redis_client

    # Freed in the background: a db holding a 200,000-visitor backfill took longer than the
    # client's 1 s socket timeout to empty synchronously.
    redis_client().flushdb(asynchronous=True)


def _proc_cpu_ticks(pid: int, *, with_children: bool = False) -> int:
    """utime + stime of a process (plus its reaped children's), in clock ticks; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    # Fields after the command: state is [0], so utime is [11], stime [12], cutime [13], cstime [14].
    ticks = int(fields[11]) + int(fields[12])
    if with_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot: user, nice, system, irq, softirq (not idle, iowait, steal)."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (values[0] + values[1] + values[2] + values[5] + values[6]) / CLOCK_TICKS


def services_cpu_seconds() -> dict[str, float]:
    """CPU used so far by every Postgres process (backends that exited count via the postmaster) and Redis."""
    totals = {"postgres": 0, "redis": 0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm == "postgres":
            totals["postgres"] += _proc_cpu_ticks(int(entry.name), with_children=True)
        elif comm.startswith("redis-server"):
            totals["redis"] += _proc_cpu_ticks(int(entry.name))
    return {name: ticks / CLOCK_TICKS for name, ticks in totals.items()}


class Gunicorn:
    """The shop under gunicorn.conf.py (the production server config) on a free loopback port.

    Used as a context manager: starts, waits until /healthz answers 200 (with healthy=False, until it
    answers at all: the database is meant to be away), and stops the whole process group it started
    on exit.
    """

    def __init__(
        self,
        *,
        settings: str = SETTINGS,
        name: str = DATABASE_NAME,
        args: Sequence[str] = (),
        environment: dict | None = None,
        healthy: bool = True,
        root: Path = ROOT,
    ):
        self.port = free_port()
        self.root = root
        self.args = list(args)
        self.healthy = healthy
        self.environment = server_environment(
            settings=settings,
            name=name,
            extra={"GUNICORN_BIND": f"127.0.0.1:{self.port}", "GUNICORN_LOG_LEVEL": "warning", **(environment or {})},
            root=root,
        )
        self.process: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Gunicorn":
        command = [sys.executable, "-m", "gunicorn", "--config", str(self.root / "gunicorn.conf.py"), *self.args]
        self.process = subprocess.Popen(
            command,
            cwd=self.root,
            env=self.environment,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        served_started(self, name="gunicorn", any_answer=not self.healthy)
        return self

    def __exit__(self, *exc) -> None:
        process_group_stop(self.process)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)

    def cpu_seconds(self) -> float:
        """CPU the master and all its workers used so far, including workers already recycled."""
        assert self.process is not None
        pid = self.process.pid
        ticks = _proc_cpu_ticks(pid, with_children=True) + sum(_proc_cpu_ticks(child) for child in _children(pid))
        return ticks / CLOCK_TICKS

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-lines:])

    def log_problems(self, lines: int = 40) -> str:
        """The log without its access lines: warnings, errors, tracebacks, worker restarts."""
        text = Path(self.log.name).read_text(errors="replace").splitlines()
        return "\n".join([line for line in text if not line.startswith('127.0.0.1 "')][-lines:])


def http_get(port: int, path: str, *, timeout: float = 5) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": USER_AGENT})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# ---- the shoppers: visitors with cookies, and batches of valid events ----


@dataclass(frozen=True)
class Visitor:
    visitor_id: str
    session_id: str

    @property
    def cookie(self) -> str:
        return f"ll_consent=granted; ll_vid={self.visitor_id}; ll_sid={self.session_id}"


def served_started(server, *, name: str, any_answer: bool = False) -> None:
    """Wait until server (a Gunicorn or an Nginx: .process, .port, .log_tail(), a context
    manager) answers /healthz with 200 (or with anything, any_answer); on its exit or after
    START_TIMEOUT, stop it and raise with the tail of its log."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = server.log_tail()
            server.__exit__(None, None, None)
            raise RuntimeError(f"{name} exited with {server.process.returncode}:\n{tail}")
        try:
            status, _ = http_get(server.port, "/healthz", timeout=2)
        except OSError:
            status = None
        if status == 200 or (status is not None and any_answer):
            return
        time.sleep(0.1)
    tail = server.log_tail()
    server.__exit__(None, None, None)
    raise RuntimeError(f"{name} did not answer /healthz within {START_TIMEOUT}s:\n{tail}")


def process_group_stop(process: subprocess.Popen | None) -> None:
    """SIGTERM to a server started with start_new_session (its master and workers share the
    group), SIGKILL if it lingers."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT)


def visitors_make(count: int, *, seed: int = 7) -> list[Visitor]:
    rng = random.Random(seed)
    return [Visitor(str(uuid.UUID(int=rng.getrandbits(128), version=4)), str(uuid.uuid4())) for _ in range(count)]


def _page_view(product: int, ts: int) -> dict:
    return raw_event(
        "page_view",
        ts_ms=ts,
        props={"page_location": f"/p/bench-product-{product}/", "page_type": "product", "page_title": "Product"},
    )


def _view_item(product: int, ts: int) -> dict:
    return raw_event(
        "view_item", ts_ms=ts, product_id=product, props={"price": 19.99, "currency": "GBP", "page_type": "product"}
    )


def _impression(product: int, ts: int, position: int) -> dict:
    return raw_event(
        "impression",
        ts_ms=ts,
        product_id=product,
        props={"slot": "similar", "algorithm": "item_knn", "position": position, "item_list_name": "Similar"},
    )


def events_make(*, size: int, products: Sequence[int], now_ms: int, rng: random.Random) -> list[dict]:
    """What a product page sends: its page_view and view_item, then impressions of the slots' items."""
    product = rng.choice(products)
    first = [_page_view(product, now_ms - 900), _view_item(product, now_ms - 850)]
    if size == 1:
        return [rng.choice([*first, _impression(rng.choice(products), now_ms, 1)])]
    impressions = [_impression(rng.choice(products), now_ms - 800 + i, i + 1) for i in range(size - 2)]
    return [*first, *impressions][:size]


@dataclass(frozen=True)
class Call:
    """One request of a load phase, built before the clock starts."""

    path: str
    body: bytes
    headers: dict
    events: int


def collect_calls(
    *, count: int, size: int, origin: str, visitors: Sequence[Visitor], products: Sequence[int], seed: int
) -> list[Call]:
    rng = random.Random(seed)
    now_ms = int(time.time() * 1000)
    calls = []
    for _ in range(count):
        visitor = rng.choice(visitors)
        body = json.dumps(
            {"sent_at": now_ms, "events": events_make(size=size, products=products, now_ms=now_ms, rng=rng)}
        )
        calls.append(Call("/t/collect", body.encode(), _headers(origin, visitor), size))
    return calls


def noop_calls(*, count: int, body: bytes, origin: str, visitors: Sequence[Visitor], seed: int) -> list[Call]:
    """The same headers and body size as the collector's calls, to a view that does nothing."""
    rng = random.Random(seed)
    return [Call("/bench/noop", body, _headers(origin, rng.choice(visitors)), 0) for _ in range(count)]


def _headers(origin: str, visitor: Visitor) -> dict:
    return {
        "Content-Type": "application/json",
        "Origin": origin,
        "Cookie": visitor.cookie,
        "User-Agent": USER_AGENT,
    }


# ---- the load generator: threads, each with one keep-alive connection ----


@dataclass
class PhaseResult:
    kind: str
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    events_sent: int = 0
    reconnects: int = 0
    failures: int = 0
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    postgres_cpu: float = 0.0
    redis_cpu: float = 0.0
    machine_cpu: float = 0.0

    def merge(self, other: "PhaseResult") -> None:
        self.elapsed += other.elapsed
        self.latencies += other.latencies
        self.statuses += other.statuses
        for name in ("accepted", "duplicates", "rejected", "events_sent", "reconnects", "failures"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("client_cpu", "server_cpu", "postgres_cpu", "redis_cpu", "machine_cpu"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def ok(self) -> int:
        return self.statuses[202] + self.statuses[204]


class LoadConnection:
    """One keep-alive HTTP/1.1 connection that sends prebuilt request bytes and reads the answer
    with a minimal parser. http.client parses every response's headers with the email package,
    ~0.3 ms of this process's CPU per request, taken from the same 2 cores as the server."""

    def __init__(self, port: int, *, timeout: float = 30):
        self.port, self.timeout = port, timeout
        self.sock: socket.socket | None = None
        self.buffer = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buffer = None, b""

    def _fill(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send one request, return (status, body); raises OSError when the connection fails."""
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split(None, 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        if headers.get(b"transfer-encoding") == b"chunked":
            parts = []
            while size := int(self._line().split(b";")[0], 16):
                parts.append(self._take(size))
                self._take(2)
            while self._line():  # trailers, then the empty line
                pass
            body = b"".join(parts)
        else:
            body = self._take(int(headers.get(b"content-length", b"0")))
        if headers.get(b"connection") == b"close":
            self.close()
        return status, body


def request_bytes(call: Call, port: int) -> bytes:
    head = [f"POST {call.path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(call.body)}"]
    head += [f"{name}: {value}" for name, value in call.headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + call.body


# A call that fails at the connection level (a recycled worker closed the keep-alive
# socket) is sent again, with the same body, at most this many times.
MAX_RESENDS = 3


def phase_run(
    *, kind: str, port: int, calls: Sequence[Call], concurrency: int, seconds: float, server=None
) -> PhaseResult:
    """Send calls from concurrency threads until they run out or seconds pass; stop by itself."""
    counter = itertools.count()
    results = [PhaseResult(kind) for _ in range(concurrency)]
    start_gate = threading.Barrier(concurrency + 1)
    requests = [request_bytes(call, port) for call in calls]

    def worker(result: PhaseResult) -> None:
        conn = LoadConnection(port)
        start_gate.wait()
        while time.perf_counter() < deadline:
            index = next(counter)
            if index >= len(calls):
                break
            for attempt in range(MAX_RESENDS + 1):
                began = time.perf_counter()
                try:
                    status, data = conn.exchange(requests[index])
                except (OSError, ValueError):
                    conn.close()
                    result.reconnects += 1
                    if attempt == MAX_RESENDS:
                        result.failures += 1
                    continue
                result.latencies.append(time.perf_counter() - began)
                result.statuses[status] += 1
                result.events_sent += calls[index].events
                if status == 202:
                    answer = json.loads(data)
                    result.accepted += answer["accepted"]
                    result.duplicates += answer["duplicates"]
                    result.rejected += len(answer["rejected"])
                break
        conn.close()

    threads = [threading.Thread(target=worker, args=(result,), daemon=True) for result in results]
    for thread in threads:
        thread.start()
    cpu_before, server_before, machine_before = time.process_time(), _server_cpu(server), machine_busy_seconds()
    services_before = services_cpu_seconds()
    began = time.perf_counter()
    deadline = began + seconds
    start_gate.wait()
    for thread in threads:
        thread.join(seconds + 60)
    total = PhaseResult(kind)
    for result in results:
        total.merge(result)
    total.elapsed = time.perf_counter() - began
    total.client_cpu = time.process_time() - cpu_before
    total.server_cpu = _server_cpu(server) - server_before
    total.machine_cpu = machine_busy_seconds() - machine_before
    services_after = services_cpu_seconds()
    total.postgres_cpu = services_after["postgres"] - services_before["postgres"]
    total.redis_cpu = services_after["redis"] - services_before["redis"]
    return total


def _server_cpu(server) -> float:
    return server.cpu_seconds() if server is not None else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by the nearest-rank method; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
