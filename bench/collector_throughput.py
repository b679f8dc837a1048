"""Collector throughput under gunicorn, batches of 1, 25 and 100, beside a do-nothing Django view in the same run.

    .venv/bin/python bench/collector_throughput.py [--seconds 4] [--rounds 3] [--concurrency 24]

Starts gunicorn with gunicorn.conf.py and bench.settings on a throwaway database, loads it from
this process over loopback keep-alive connections, prints a table, checks that every event a 202
reported as accepted is a row, and drops the database. See bench/README.md.
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._server import (
    DATABASE_NAME,
    SETTINGS,
    Gunicorn,
    PhaseResult,
    catalog_seed,
    collect_calls,
    database_drop,
    database_recreate,
    django_setup,
    noop_calls,
    percentile,
    phase_run,
    redis_flush,
    visitors_make,
)

# The target: batches of 25, every event committed before its 202.
TARGET_EVENTS_PER_SECOND = 10_000
TARGET_BATCH = 25
NOOP = "noop"
# Calls built ahead for a phase: this many times what the warm-up rate says it needs.
HEADROOM = 1.6
CORES = os.cpu_count() or 2


def _build(kind, *, count: int, server: Gunicorn, visitors, products, seed: int, noop_body: bytes):
    if kind == NOOP:
        return noop_calls(count=count, body=noop_body, origin=server.origin, visitors=visitors, seed=seed)
    return collect_calls(count=count, size=kind, origin=server.origin, visitors=visitors, products=products, seed=seed)


def _run(kind, *, count: int, seconds: float, args, server: Gunicorn, **build) -> PhaseResult:
    calls = _build(kind, count=count, server=server, **build)
    return phase_run(
        kind=str(kind), port=server.port, calls=calls, concurrency=args.concurrency, seconds=seconds, server=server
    )


def _stored_events() -> int:
    """Rows in the event table; once more on a fresh connection if Postgres was restarted under us."""
    from django.db import OperationalError, connections

    from tracking.models import Event

    for _ in range(3):
        try:
            return Event.objects.count()
        except OperationalError:
            connections.close_all()
            time.sleep(1)
    return Event.objects.count()


def _row(kind, result: PhaseResult, noop_rate: float) -> str:
    rate = result.requests / result.elapsed
    statuses = result.statuses
    client_errors = sum(n for code, n in statuses.items() if 400 <= code < 500 and code != 429)
    server_errors = sum(n for code, n in statuses.items() if code >= 500)
    accounted = result.server_cpu + result.postgres_cpu + result.redis_cpu + result.client_cpu
    cells = [
        f"{kind:>7}",
        f"{rate:9.0f}",
        f"{result.events_sent / result.elapsed:9.0f}" if kind != NOOP else f"{'-':>9}",
        f"{percentile(result.latencies, 50) * 1000:7.1f}",
        f"{percentile(result.latencies, 99) * 1000:7.1f}",
        f"{result.ok:7d}",
        f"{client_errors:4d}",
        f"{statuses[429]:4d}",
        f"{server_errors:4d}",
        f"{result.reconnects:6d}",
        f"{rate / noop_rate:6.2f}" if noop_rate else f"{'-':>6}",
        f"{result.server_cpu / max(result.requests, 1) * 1000:7.2f}",
        f"{result.postgres_cpu / max(result.requests, 1) * 1000:6.2f}",
        f"{result.redis_cpu / max(result.requests, 1) * 1000:6.2f}",
        f"{result.server_cpu / result.elapsed:5.2f}",
        f"{result.postgres_cpu / result.elapsed:5.2f}",
        f"{result.redis_cpu / result.elapsed:5.2f}",
        f"{result.client_cpu / result.elapsed:5.2f}",
        f"{max(result.machine_cpu - accounted, 0) / result.elapsed:5.2f}",
    ]
    return "  ".join(cells)


HEADER = (
    "  batch      req/s   events/s   p50ms   p99ms  202/204  4xx  429  5xx  resent  x noop  "
    "  CPU ms/req: guni     pg  redis |  cores: guni    pg redis  load  rest"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="1,25,100", help="Batch sizes to measure (comma-separated).")
    parser.add_argument("--seconds", type=float, default=4.0, help="Length of one measured phase.")
    parser.add_argument("--rounds", type=int, default=3, help="Rounds; each runs every kind once, order rotating.")
    parser.add_argument("--warmup", type=float, default=1.5, help="Seconds of warm-up per kind.")
    parser.add_argument("--concurrency", type=int, default=24, help="Client connections (threads).")
    parser.add_argument("--visitors", type=int, default=5000, help="Distinct simulated visitors.")
    parser.add_argument("--products", type=int, default=500, help="Products in the throwaway catalog.")
    parser.add_argument("--settings", default=SETTINGS, help="Django settings module for the server and checks.")
    parser.add_argument(
        "--gunicorn-arg", action="append", default=[], help="Extra gunicorn argument, e.g. --gunicorn-arg=--workers=3"
    )
    parser.add_argument(
        "--server-env", action="append", default=[], help="KEY=VALUE for the server's environment (repeatable)."
    )
    parser.add_argument("--keep-database", action="store_true", help=f"Leave {DATABASE_NAME} behind for a look.")
    args = parser.parse_args()
    batches = [int(size) for size in args.batches.split(",")]
    kinds = [NOOP, *batches]
    server_env = dict(item.split("=", 1) for item in args.server_env)

    print(f"==> fresh database {DATABASE_NAME}, migrate, catalog", file=sys.stderr)
    database_recreate()
    django_setup(settings=args.settings)
    products = catalog_seed(products=args.products)
    visitors = visitors_make(args.visitors)
    totals = {kind: PhaseResult(str(kind)) for kind in kinds}
    warm_rate: dict = {}
    accepted_reported = duplicates_reported = 0
    try:
        with Gunicorn(settings=args.settings, args=args.gunicorn_arg, environment=server_env) as server:
            build = {"visitors": visitors, "products": products, "noop_body": b""}
            # The noop view gets the body of a batch of 25 so the bytes on the wire match.
            build["noop_body"] = collect_calls(
                count=1, size=TARGET_BATCH, origin=server.origin, visitors=visitors, products=products, seed=0
            )[0].body
            print(f"==> gunicorn {server.origin} pid {server.process.pid}; warm-up", file=sys.stderr)
            seed = 1
            for kind in kinds:
                seed += 1
                result = _run(kind, count=100_000, seconds=args.warmup, args=args, server=server, seed=seed, **build)
                warm_rate[kind] = result.requests / result.elapsed
                accepted_reported += result.accepted
                duplicates_reported += result.duplicates
            for round_index in range(args.rounds):
                order = kinds[round_index % len(kinds) :] + kinds[: round_index % len(kinds)]
                print(f"==> round {round_index + 1}/{args.rounds}: {', '.join(map(str, order))}", file=sys.stderr)
                for kind in order:
                    seed += 1
                    count = int(warm_rate[kind] * args.seconds * HEADROOM) + 50
                    result = _run(kind, count=count, seconds=args.seconds, args=args, server=server, seed=seed, **build)
                    totals[kind].merge(result)
                    accepted_reported += result.accepted
                    duplicates_reported += result.duplicates
            log_problems = server.log_problems()
        stored = _stored_events()
    finally:
        if not args.keep_database:
            from django.db import connections

            connections.close_all()
            database_drop()
        redis_flush()

    noop_rate = totals[NOOP].requests / totals[NOOP].elapsed
    print()
    print(
        f"Collector throughput: gunicorn.conf.py {' '.join(args.gunicorn_arg) or '(as shipped)'}, "
        f"{args.concurrency} keep-alive connections from one client process, "
        f"{args.rounds} rounds x {args.seconds:g} s per kind"
    )
    print(HEADER)
    for kind in kinds:
        print(_row(kind, totals[kind], noop_rate if kind != NOOP else 0))
    print(
        "CPU ms/req: CPU time per request in gunicorn (master and workers), Postgres (all backends) and Redis; "
        "cores: CPU seconds per second of gunicorn, Postgres, Redis, this load generator, and the rest "
        "(kernel softirq, other users of the machine). Postgres and Redis figures include other users' work."
    )
    print()
    print("CPU ceiling: the rate the measured CPU per request (gunicorn + Postgres + Redis) allows on 2 otherwise idle")
    print("cores, with the load generator and the kernel's network work left out: an upper bound, robust to the noise.")
    for kind in batches:
        result = totals[kind]
        per_request = (result.server_cpu + result.postgres_cpu + result.redis_cpu) / max(result.requests, 1)
        ceiling = CORES / per_request if per_request else float("nan")
        print(
            f"  batch {kind:>3}: {per_request * 1000:5.2f} ms CPU/request -> {ceiling:5.0f} req/s, "
            f"{ceiling * kind:6.0f} events/s"
        )
    print()
    target = totals.get(TARGET_BATCH)
    if target is not None:
        events_per_second = target.events_sent / target.elapsed
        verdict = "MET" if events_per_second >= TARGET_EVENTS_PER_SECOND else "MISSED"
        print(
            f"Target >= {TARGET_EVENTS_PER_SECOND} events/s with batches of {TARGET_BATCH}: {verdict} "
            f"({events_per_second:.0f} events/s)"
        )
    durable = stored == accepted_reported
    print(
        f"Durability: {stored} rows in tracking_event, {accepted_reported} accepted in 202 answers, "
        f"{duplicates_reported} duplicates reported: {'OK' if durable else 'MISMATCH'}"
    )
    if log_problems.strip():
        print(f"gunicorn log, access lines left out:\n{log_problems}", file=sys.stderr)
    return 0 if durable else 1


if __name__ == "__main__":
    sys.exit(main())
