"""Profile freshness: from an event's send and its receipt to the live Redis profile showing it, beside baselines.

    .venv/bin/python bench/freshness.py [--samples 500] [--load-rate 100]

Starts gunicorn with gunicorn.conf.py and bench.settings on a throwaway database. Each sample
posts one product page's view_item through the collector while a second thread polls the
visitor's profile (personalization.profiles.profile_read) until the product heads `recent`.
Baselines taken in the same run, sample by sample: a POST to /bench/noop and a Redis SET+GET.
A second pass repeats it all while other visitors post batches of 25 in the background.
"""

import argparse
import http.client
import json
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._server import (
    DATABASE_NAME,
    SETTINGS,
    USER_AGENT,
    Gunicorn,
    catalog_seed,
    collect_calls,
    database_drop,
    database_recreate,
    django_setup,
    percentile,
    redis_flush,
    visitors_make,
)
from tracking.payloads import raw_event

TARGET_P99_MS = 50
# A sample whose product has not shown after this long counts as missing, and the run goes on.
POLL_GIVE_UP_SECONDS = 5.0
BACKGROUND_CONNECTIONS = 8


class Poster:
    """One keep-alive connection that posts a body and times the answer."""

    def __init__(self, server: Gunicorn):
        self.server = server
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)

    def post(self, path: str, body: bytes, visitor) -> tuple[int, float]:
        headers = {
            "Content-Type": "application/json",
            "Origin": self.server.origin,
            "Cookie": visitor.cookie,
            "User-Agent": USER_AGENT,
        }
        for attempt in range(3):
            began = time.perf_counter()
            try:
                self.conn.request("POST", path, body=body, headers=headers)
                response = self.conn.getresponse()
                response.read()
                return response.status, time.perf_counter() - began
            except (OSError, http.client.HTTPException):
                self.conn.close()  # a recycled worker closed the socket: send again on a new one
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def _wait_for_head(*, owner: str, product: int, deadline: float) -> tuple[float | None, int | None]:
    """Poll the profile until product heads recent; (wall-clock time seen, updated_ms) or (None, None)."""
    from personalization.profiles import profile_read

    while time.time() < deadline:
        profile = profile_read(owner=owner)
        if profile.recent and profile.recent[0] == product:
            return time.time(), profile.updated_ms
    return None, None


def _watch(seen: list, owner: str, product: int, deadline: float) -> None:
    seen.extend(_wait_for_head(owner=owner, product=product, deadline=deadline))


def samples_take(*, server: Gunicorn, count: int, visitors, products, label: str) -> dict[str, list[float]]:
    """count samples of: send -> visible, send -> 202, receipt -> profile stamp, noop POST, Redis SET+GET."""
    from personalization.profiles import profile_owner
    from shop.keyspace import redis_client
    from tracking.models import Event

    poster = Poster(server)
    client = redis_client()
    heads: dict[str, int] = {}
    sent: dict[str, tuple[float, int | None]] = {}  # event_id -> (client send time, updated_ms)
    result: dict[str, list[float]] = {"visible": [], "answered": [], "noop": [], "redis": [], "missing": []}
    for index in range(count):
        visitor = visitors[index % len(visitors)]
        owner = profile_owner(visitor_id=uuid.UUID(visitor.visitor_id), user_id=None)
        product = products[index % len(products)]
        if heads.get(owner) == product:
            product = products[(index + 1) % len(products)]
        event_id = str(uuid.uuid4())
        body = json.dumps(
            {
                "sent_at": int(time.time() * 1000),
                "events": [
                    raw_event(
                        "view_item",
                        event_id=event_id,
                        product_id=product,
                        props={"page_type": "product", "price": 19.99},
                    )
                ],
            }
        ).encode()
        seen: list = []
        began = time.time()
        watcher = threading.Thread(target=_watch, args=(seen, owner, product, began + POLL_GIVE_UP_SECONDS))
        watcher.start()
        status, answered = poster.post("/t/collect", body, visitor)
        watcher.join(POLL_GIVE_UP_SECONDS + 5)
        if status != 202:
            raise RuntimeError(f"{label}: the collector answered {status}")
        seen_at, updated_ms = seen if seen else (None, None)
        result["answered"].append(answered * 1000)
        if seen_at is None:
            result["missing"].append(index)
        else:
            result["visible"].append((seen_at - began) * 1000)
            sent[event_id] = (began, updated_ms)
            heads[owner] = product
        noop_status, noop_seconds = poster.post("/bench/noop", body, visitor)
        assert noop_status == 204, noop_status
        result["noop"].append(noop_seconds * 1000)
        key = f"bench:freshness:{index}"
        redis_began = time.perf_counter()
        client.set(key, body, ex=60)
        client.get(key)
        result["redis"].append((time.perf_counter() - redis_began) * 1000)
    # The server's own clock on both ends: received_at (ingest start) and updated_ms (profile write).
    receipts = dict(Event.objects.filter(event_id__in=list(sent)).values_list("event_id", "received_at"))
    result["receipt"] = [
        updated_ms - receipts[uuid.UUID(event_id)].timestamp() * 1000
        for event_id, (_, updated_ms) in sent.items()
        if updated_ms is not None and uuid.UUID(event_id) in receipts
    ]
    return result


class Background:
    """Other shoppers' batches of 25 at a steady rate from a few threads, until stopped (or a time limit)."""

    def __init__(self, *, server: Gunicorn, rate: float, visitors, products, limit_seconds: float):
        self.server, self.rate, self.limit = server, rate, limit_seconds
        self.calls = collect_calls(
            count=int(rate * limit_seconds) + 10,
            size=25,
            origin=server.origin,
            visitors=visitors,
            products=products,
            seed=99,
        )
        self.stop = threading.Event()
        self.sent = 0
        self.statuses: dict[int, int] = {}
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(BACKGROUND_CONNECTIONS)
        ]

    def _run(self, offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        interval = BACKGROUND_CONNECTIONS / self.rate
        began = time.perf_counter()
        for number, call in enumerate(self.calls[offset::BACKGROUND_CONNECTIONS]):
            if self.stop.is_set() or time.perf_counter() - began > self.limit:
                break
            pause = began + number * interval - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            try:
                conn.request("POST", call.path, body=call.body, headers=call.headers)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                continue
            with self.lock:
                self.sent += 1
                self.statuses[response.status] = self.statuses.get(response.status, 0) + 1
        conn.close()

    def __enter__(self) -> "Background":
        self.began = time.perf_counter()
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)
        self.elapsed = time.perf_counter() - self.began


def _line(name: str, values: list[float]) -> str:
    if not values:
        return f"  {name:<44} {'-':>8} {'-':>8} {'-':>8}   n=0"
    return (
        f"  {name:<44} {percentile(values, 50):8.2f} {percentile(values, 99):8.2f} {max(values):8.2f}   n={len(values)}"
    )


def _report(title: str, result: dict[str, list[float]]) -> None:
    print(title)
    print(f"  {'':<44} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    print(_line("receipt -> profile stamped (server clock)", result["receipt"]))
    print(_line("client send -> product heads profile.recent", result["visible"]))
    print(_line("client send -> 202 answer", result["answered"]))
    print(_line("baseline: POST /bench/noop round trip", result["noop"]))
    print(_line("baseline: Redis SET + GET", result["redis"]))
    if result["missing"]:
        print(f"  {len(result['missing'])} samples never showed within {POLL_GIVE_UP_SECONDS:g} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=500, help="Samples per pass (idle, then under load).")
    parser.add_argument("--load-rate", type=float, default=100, help="Background batches of 25 per second; 0: none.")
    parser.add_argument("--visitors", type=int, default=50, help="Visitors the samples rotate through.")
    parser.add_argument("--settings", default=SETTINGS, help="Django settings module for the server and checks.")
    parser.add_argument("--gunicorn-arg", action="append", default=[], help="Extra gunicorn argument.")
    parser.add_argument("--keep-database", action="store_true", help=f"Leave {DATABASE_NAME} behind for a look.")
    args = parser.parse_args()

    print(f"==> fresh database {DATABASE_NAME}, migrate, catalog", file=sys.stderr)
    database_recreate()
    django_setup(settings=args.settings)
    products = catalog_seed(products=200)
    visitors = visitors_make(args.visitors, seed=11)
    background_visitors = visitors_make(2000, seed=12)
    try:
        with Gunicorn(settings=args.settings, args=args.gunicorn_arg) as server:
            print(f"==> gunicorn {server.origin}; warm-up and {args.samples} idle samples", file=sys.stderr)
            samples_take(server=server, count=30, visitors=visitors, products=products, label="warm-up")
            idle = samples_take(server=server, count=args.samples, visitors=visitors, products=products, label="idle")
            loaded = background = None
            if args.load_rate > 0:
                print(f"==> {args.samples} samples under {args.load_rate:g} batches/s of 25", file=sys.stderr)
                with Background(
                    server=server,
                    rate=args.load_rate,
                    visitors=background_visitors,
                    products=products,
                    limit_seconds=max(60.0, args.samples * 0.5),
                ) as background:
                    time.sleep(1)
                    loaded = samples_take(
                        server=server, count=args.samples, visitors=visitors, products=products, label="load"
                    )
            problems = server.log_problems()
    finally:
        if not args.keep_database:
            from django.db import connections

            connections.close_all()
            database_drop()
        redis_flush()

    print()
    _report(f"Freshness with the server otherwise idle ({args.samples} samples, view_item batches of 1):", idle)
    verdicts = [("idle", idle)]
    if loaded is not None:
        achieved = background.sent / background.elapsed
        print()
        _report(
            f"Freshness under background load: {achieved:.0f} batches/s of 25 ({achieved * 25:.0f} events/s) "
            f"from {BACKGROUND_CONNECTIONS} connections, statuses {background.statuses}:",
            loaded,
        )
        verdicts.append(("under load", loaded))
    print()
    for name, result in verdicts:
        p99 = percentile(result["visible"], 99)
        verdict = "MET" if p99 <= TARGET_P99_MS and not result["missing"] else "MISSED"
        print(f"Target p99 <= {TARGET_P99_MS} ms, client send -> profile ({name}): {verdict} (p99 {p99:.1f} ms)")
    if problems.strip():
        print(f"gunicorn log, access lines left out:\n{problems}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
