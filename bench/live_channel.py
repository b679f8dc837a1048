"""The live channel: events/s over the socket beside the HTTP collector, sockets held and their memory, push latency.

    .venv/bin/python bench/live_channel.py [--seconds 4] [--rounds 2] [--sockets 5000] [--samples 200]

Starts gunicorn (gunicorn.conf.py) and uvicorn (python -m live.serve) with bench.settings on a
throwaway database, all on loopback. Throughput: batches of 25 from 24 connections, HTTP and
socket phases alternating in one run, every ack or 202 counted and checked against the rows.
Sockets: a load generator in a process of its own opens --sockets sockets (each a visitor with
consent) that send a heartbeat and an event now and then; uvicorn's resident memory is read
before and while they are held. Push latency: add_to_cart sent on a page's socket -> its
refreshed slots received, at idle and while the throughput load runs. Every loop is bounded.
"""

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib

from bench._server import (
    START_TIMEOUT,
    STOP_TIMEOUT,
    Gunicorn,
    PhaseResult,
    catalog_seed,
    collect_calls,
    database_drop,
    database_recreate,
    events_make,
    free_port,
    percentile,
    phase_run,
    server_environment,
    visitors_make,
)

NAME = "shop_bench_live"
BATCH = 25
CONCURRENCY = 24
# The generator's trickle: a heartbeat as tracker.js sends it, and one event per socket now and then.
HEARTBEAT_SECONDS = 25
EVENT_EVERY_SECONDS = 30
# Connections opened at once by the generator: the listen backlog and the handshake CPU allow it.
OPENING = 200


def bench_environment(redis_url: str, **extra) -> dict:
    return server_environment(
        name=NAME, extra={"BENCH_REDIS_URL": redis_url, "LIVE_CHANNEL_LAYER_URL": redis_url, **extra}
    )


class Uvicorn:
    """python -m live.serve on a free loopback port, as deployed, stopped with its process group."""

    def __init__(self, environment: dict):
        self.port = free_port()
        self.environment = {**environment, "LIVE_BIND": f"127.0.0.1:{self.port}"}
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Uvicorn":
        self.process = subprocess.Popen(
            [sys.executable, "-m", "live.serve"], env=self.environment, start_new_session=True
        )
        deadline = time.monotonic() + START_TIMEOUT
        import socket

        while time.monotonic() < deadline:
            assert self.process.poll() is None, "uvicorn exited"
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.1)
        raise RuntimeError("uvicorn did not listen")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(STOP_TIMEOUT)

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0


def _socket_args(port: int, visitor) -> dict:
    return {
        "uri": f"ws://127.0.0.1:{port}/ws/live",
        "origin": f"http://127.0.0.1:{port}",
        "additional_headers": {"Cookie": visitor.cookie},
        "max_size": None,
        "open_timeout": 30,
        "ping_interval": None,
    }


async def _ws_load(*, port: int, visitors, products, seconds: float, seed: int) -> PhaseResult:
    """CONCURRENCY sockets each sending a batch of 25 and waiting for its ack, until seconds pass."""
    from websockets.asyncio.client import connect

    result = PhaseResult("ws")
    rng = random.Random(seed)
    sockets = [await connect(**_socket_args(port, rng.choice(visitors))) for _ in range(CONCURRENCY)]
    deadline = time.perf_counter() + seconds

    async def worker(socket, number: int) -> None:
        sent = 0
        while time.perf_counter() < deadline:
            now_ms = int(time.time() * 1000)
            events = events_make(size=BATCH, products=products, now_ms=now_ms, rng=rng)
            started = time.perf_counter()
            await socket.send(json.dumps({"type": "batch", "id": sent, "sent_at": now_ms, "events": events}))
            answer = json.loads(await socket.recv())
            while answer.get("type") not in ("ack", "nack"):
                answer = json.loads(await socket.recv())
            result.latencies.append(time.perf_counter() - started)
            sent += 1
            if answer["type"] == "ack":
                result.accepted += answer["accepted"]
                result.duplicates += answer["duplicates"]
                result.events_sent += BATCH
                result.statuses[202] += 1
            else:
                result.statuses[answer.get("error")] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(socket, number) for number, socket in enumerate(sockets)))
    result.elapsed = time.perf_counter() - started
    for socket in sockets:
        await socket.close()
    return result


async def _push_latency(*, port: int, visitors, products, samples: int, seed: int) -> list[float]:
    """add_to_cart sent on a home page's socket -> that socket's push with the slots, one at a time."""
    from websockets.asyncio.client import connect

    rng = random.Random(seed)
    pages = []
    for visitor in visitors[:20]:
        socket = await connect(**_socket_args(port, visitor))
        await socket.send(json.dumps({"type": "hello", "page": "home", "products": []}))
        await socket.recv()
        pages.append(socket)
    from tracking.payloads import raw_event

    latencies = []
    for number in range(samples):
        socket = pages[number % len(pages)]
        event = raw_event("add_to_cart", product_id=rng.choice(products), props={"quantity": 1})
        started = time.perf_counter()
        await socket.send(json.dumps({"type": "batch", "id": number, "events": [event]}))
        while True:
            frame = json.loads(await asyncio.wait_for(socket.recv(), 10))
            if frame["type"] == "push":
                break
        latencies.append(time.perf_counter() - started)
        assert frame["slots"], "a push without slots"
        await asyncio.sleep(0.02)
    for socket in pages:
        await socket.close()
    return latencies


async def _generator(*, port: int, count: int, hold: float, seed: int) -> None:
    """The socket load generator (its own process): count sockets, each a visitor with a trickle."""
    from websockets.asyncio.client import connect

    from bench._server import Visitor
    from tracking.payloads import raw_event

    rng = random.Random(seed)
    opened, failed, events = 0, 0, 0
    errors: Counter = Counter()
    gate = asyncio.Semaphore(OPENING)
    stop = asyncio.Event()

    async def one(number: int) -> None:
        nonlocal opened, failed, events
        visitor = Visitor(str(__import__("uuid").uuid4()), str(__import__("uuid").uuid4()))
        try:
            async with gate:
                socket = await connect(**_socket_args(port, visitor))
        except Exception as error:
            errors[f"open: {error!r}"[:80]] += 1
            failed += 1
            return
        opened += 1
        try:
            await socket.send(json.dumps({"type": "hello", "page": None}))
            next_event = time.monotonic() + rng.uniform(0, EVENT_EVERY_SECONDS)
            next_beat = time.monotonic() + rng.uniform(0, HEARTBEAT_SECONDS)
            while not stop.is_set():
                now = time.monotonic()
                if now >= next_event:
                    await socket.send(
                        json.dumps(
                            {"type": "batch", "id": events, "events": [raw_event("scroll", props={"percent": 25})]}
                        )
                    )
                    events += 1
                    next_event = now + EVENT_EVERY_SECONDS
                if now >= next_beat:
                    await socket.send('{"type":"ping"}')
                    next_beat = now + HEARTBEAT_SECONDS
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(socket.recv(), min(next_event, next_beat) - now + 0.01)
        except Exception as error:
            errors[f"held: {error!r}"[:80]] += 1
            failed += 1
        finally:
            await socket.close()

    tasks = [asyncio.create_task(one(number)) for number in range(count)]
    deadline = time.monotonic() + 120
    while opened + failed < count and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    print(json.dumps({"opened": opened, "failed": failed}), flush=True)
    print(dict(errors), file=sys.stderr)
    await asyncio.sleep(hold)
    print(json.dumps({"held": opened - failed, "events": events}), flush=True)
    print(dict(errors), file=sys.stderr)
    stop.set()
    await asyncio.wait(tasks, timeout=30)


def _sockets_phase(*, uvicorn: Uvicorn, count: int, hold: float) -> dict:
    base = uvicorn.rss_kib()
    generator = subprocess.Popen(
        [sys.executable, __file__, "--generator", str(uvicorn.port), "--sockets", str(count), "--hold", str(hold)],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        opened = json.loads(generator.stdout.readline())
        time.sleep(min(hold / 2, 10))
        held_rss = uvicorn.rss_kib()
        held = json.loads(generator.stdout.readline())
        generator.wait(60)
    finally:
        if generator.poll() is None:
            generator.kill()
    return {**opened, **held, "rss_before_kib": base, "rss_held_kib": held_rss}


def _setup(environment: dict) -> None:
    """This process on the bench database and the Redis db given (bench._server.django_setup would flush db 13)."""
    os.environ.update(environment)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from shop.keyspace import redis_client

    redis_client().flushdb()


def _pct(values) -> str:
    return f"p50 {percentile(values, 50) * 1000:.1f} ms, p99 {percentile(values, 99) * 1000:.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sockets", type=int, default=5000)
    parser.add_argument("--hold", type=float, default=30.0, help="Seconds the generator holds its sockets.")
    parser.add_argument("--samples", type=int, default=200, help="Push latency samples per phase.")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="A Redis db this run may flush.")
    parser.add_argument("--generator", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generator:
        asyncio.run(_generator(port=args.generator, count=args.sockets, hold=args.hold, seed=11))
        return 0

    environment = bench_environment(args.redis_url)
    print(f"==> fresh database {NAME}, migrate, catalog; Redis {args.redis_url} flushed", file=sys.stderr)
    database_recreate(name=NAME)
    _setup(environment)
    products = catalog_seed(products=500)
    visitors = visitors_make(5000)
    http, ws = PhaseResult("http"), PhaseResult("ws")
    try:
        with Gunicorn(name=NAME, environment=environment) as gunicorn, Uvicorn(environment) as uvicorn:
            from tracking.models import Event

            for number in range(args.rounds):
                calls = collect_calls(
                    count=40_000, size=BATCH, origin=gunicorn.origin, visitors=visitors, products=products, seed=number
                )
                http.merge(
                    phase_run(
                        kind="http", port=gunicorn.port, calls=calls, concurrency=CONCURRENCY, seconds=args.seconds
                    )
                )
                ws.merge(
                    asyncio.run(
                        _ws_load(
                            port=uvicorn.port, visitors=visitors, products=products, seconds=args.seconds, seed=number
                        )
                    )
                )
            stored = Event.objects.count()
            idle = asyncio.run(
                _push_latency(port=uvicorn.port, visitors=visitors, products=products, samples=args.samples, seed=1)
            )

            async def loaded():
                load = asyncio.create_task(
                    _ws_load(port=uvicorn.port, visitors=visitors, products=products, seconds=args.seconds * 2, seed=99)
                )
                latencies = await _push_latency(
                    port=uvicorn.port,
                    visitors=visitors[100:],
                    products=products,
                    samples=min(args.samples, 100),
                    seed=2,
                )
                return latencies, await load

            under_load, load = asyncio.run(loaded())
            sockets = _sockets_phase(uvicorn=uvicorn, count=args.sockets, hold=args.hold)
    finally:
        database_drop(name=NAME)
    print(
        f"events/s, batches of {BATCH}, {CONCURRENCY} connections, {args.rounds} rounds of {args.seconds:.0f} s each:"
    )
    for result, server in ((http, "gunicorn (HTTP collector)"), (ws, "uvicorn (socket), one process")):
        print(
            f"  {server:32} {result.events_sent / result.elapsed:8.0f} events/s  batch {_pct(result.latencies)}  "
            f"acked {result.ok}  accepted {result.accepted}  duplicates {result.duplicates}"
        )
    print(f"  socket / HTTP: {ws.events_sent / ws.elapsed / (http.events_sent / http.elapsed):.2f}")
    print(
        f"  rows stored {stored}, accepted by the acks and 202s {http.accepted + ws.accepted}: "
        f"{'every ack durable' if stored == http.accepted + ws.accepted else 'MISMATCH'}"
    )
    print(
        f"push latency (add_to_cart sent -> slots received): idle {_pct(idle)} ({len(idle)} samples); "
        f"under {load.events_sent / load.elapsed:.0f} events/s {_pct(under_load)} ({len(under_load)})"
    )
    per_socket = (sockets["rss_held_kib"] - sockets["rss_before_kib"]) / max(sockets["opened"], 1)
    print(
        f"sockets: {sockets['opened']} opened, {sockets['failed']} failed, {sockets['held']} held "
        f"for {args.hold:.0f} s "
        f"with {sockets['events']} events trickled; uvicorn RSS {sockets['rss_before_kib'] / 1024:.0f} MiB -> "
        f"{sockets['rss_held_kib'] / 1024:.0f} MiB: {per_socket:.1f} KiB per socket"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
