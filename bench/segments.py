"""Live segments: collector throughput with 50 segments vs none, freshness, due-time lateness, a 1M-event backfill.

    .venv/bin/python bench/segments.py [--parts ingest,freshness,due,backfill] [--rounds 3] [--seconds 4]

Each part prints its figures beside a baseline measured in the same run (see bench/README.md):

- ingest: batches of 25 through gunicorn, phases alternating between 50 active segments and
  none (the hook then returns at once); the ratio of events/s is the figure (target >= 0.85).
- freshness: one view_item per sample through the collector, a second thread polling the
  visitor's segment set (the page's read) until the segment shows; beside the same request's
  202 and, server-side, the event's received_at to its Membership's entered_at.
- due: --pending visitors (100,000) each holding a due-time, their exits spread over the next
  --spread-minutes; segments_due_fire run on beat's schedule (every 5 s) for --due-minutes;
  each exit's lateness beside the lateness the schedule alone gives the same due-times.
- backfill: --events (1,000,000) over --visitors (200,000) COPYed into the record; the full
  backfill with 50 segments, beside a plain read of the same rows, each in a child process
  whose peak memory is reported.
"""

import argparse
import io
import json
import multiprocessing
import random
import resource
import statistics
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from queue import Empty

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _server as bench
from tracking.payloads import raw_event

TARGET_RATIO = 0.85
TARGET_FRESHNESS_P99_MS = 1000
TARGET_LATENESS_P99_S = 60
BATCH = 25
SEGMENTS = 50
# Calls built ahead for a phase: this many times what the warm-up rate says it needs.
HEADROOM = 1.6
# Beat sends segments_due_fire_task this often (CELERY_BEAT_SCHEDULE).
BEAT_SECONDS = 5.0
POLL_GIVE_UP_SECONDS = 5.0
PARTS = ("ingest", "freshness", "due", "backfill")
# A database of its own: another benchmark recreating shop_bench would end this one's connections.
NAME = "shop_bench_segments"
OPTIONS = [
    ("--seconds", float, 4.0, "Length of one measured ingest phase."),
    ("--rounds", int, 3, "Ingest rounds; each runs both kinds, order alternating."),
    ("--warmup", float, 1.5, "Seconds of warm-up per ingest kind."),
    ("--concurrency", int, 24, "Client connections (threads)."),
    ("--samples", int, 300, "Freshness samples."),
    ("--pending", int, 100_000, "Visitors holding due-times."),
    ("--spread-minutes", int, 100, "Minutes over which their exits fall."),
    ("--due-minutes", float, 3.0, "Minutes of firing measured."),
    ("--events", int, 1_000_000, "Events in the backfill's record."),
    ("--visitors", int, 200_000, "Visitors in the backfill's record."),
    ("--products", int, 500, "Products in the throwaway catalog."),
]


def segment_definitions(products: list[int]) -> dict[str, dict]:
    """Fifty definitions of every kind the issue names, over the events the bench sends."""
    kinds = [
        lambda i: {"event": "view_item", "within": f"{10 + i}m", "at_least": 1 + i % 3},
        lambda i: {"event": "impression", "within": f"{1 + i}h", "at_least": 5},
        lambda i: {"event": "view_item", "in_session": True, "at_least": 2 + i % 4},
        lambda i: {
            "all": [{"event": "page_view", "within": "1d"}, {"event": "add_to_cart", "within": f"{i}m", "at_most": 0}]
        },
        lambda i: {"aggregate": "sum", "of": "purchase", "within": f"{i}d", "above": 100},
        lambda i: {"tenure": {"at_least": f"{i}m"}},
        lambda i: {"source": "newsletter", "within": f"{i}d"},
        lambda i: {"device": "phone", "within": f"{i}h"},
        lambda i: {"event": "view_item", "within": "2h", "where": {"product": products[i % len(products)]}},
        lambda i: {"all": [{"segment": f"bench-{i - 9}"}, {"not": {"event": "search", "within": f"{i}m"}}]},
    ]
    return {f"bench-{i}": kinds[i % len(kinds)](i) for i in range(SEGMENTS)}


def segments_create(products: list[int]) -> None:
    from segments.models import Segment

    Segment.objects.bulk_create(
        Segment(slug=slug, name=slug, definition=definition)
        for slug, definition in segment_definitions(products).items()
    )


def segments_switch(*, active: bool) -> None:
    """Every server process sees the change once its copy of the definitions expires."""
    from segments.models import Segment
    from segments.services import DEFINITIONS_TTL_SECONDS

    Segment.objects.update(is_active=active)
    time.sleep(DEFINITIONS_TTL_SECONDS + 0.5)


def _events_per_second(result: bench.PhaseResult) -> float:
    return result.events_sent / result.elapsed if result.elapsed else 0.0


def _ratio(results: dict[str, bench.PhaseResult]) -> float:
    return _events_per_second(results["50 segments"]) / _events_per_second(results["none"])


def part_ingest(*, server: bench.Gunicorn, args, visitors, products) -> dict:
    kinds = {"none": False, "50 segments": True}
    totals = {kind: bench.PhaseResult(kind) for kind in kinds}
    seed, rate = 1, {}
    for kind, active in kinds.items():
        segments_switch(active=active)
        calls = bench.collect_calls(
            count=100_000 // BATCH, size=BATCH, origin=server.origin, visitors=visitors, products=products, seed=seed
        )
        result = bench.phase_run(
            kind=kind, port=server.port, calls=calls, concurrency=args.concurrency, seconds=args.warmup
        )
        rate[kind] = result.requests / result.elapsed
    # Each round's own ratio too: their spread is how much the machine moved within the run.
    rounds: list[float] = []
    for round_index in range(args.rounds):
        order = list(kinds) if round_index % 2 == 0 else list(reversed(kinds))
        print(f"==> ingest round {round_index + 1}/{args.rounds}: {', '.join(order)}", file=sys.stderr)
        this_round = {}
        for kind in order:
            seed += 1
            segments_switch(active=kinds[kind])
            count = int(rate[kind] * args.seconds * HEADROOM) + 50
            calls = bench.collect_calls(
                count=count, size=BATCH, origin=server.origin, visitors=visitors, products=products, seed=seed
            )
            this_round[kind] = bench.phase_run(
                kind=kind,
                port=server.port,
                calls=calls,
                concurrency=args.concurrency,
                seconds=args.seconds,
                server=server,
            )
            totals[kind].merge(this_round[kind])
        rounds.append(_ratio(this_round))
    print()
    print(
        f"Collector throughput, batches of {BATCH}, {args.concurrency} connections, "
        f"{args.rounds} rounds x {args.seconds:g} s"
    )
    print("  segments        req/s   events/s   p50ms   p99ms   5xx   CPU ms a request: gunicorn postgres redis")
    for kind, result in totals.items():
        server_errors = sum(n for code, n in result.statuses.items() if code >= 500)
        requests = max(result.requests, 1)
        print(
            f"  {kind:<12} {result.requests / result.elapsed:8.0f}  {_events_per_second(result):9.0f}  "
            f"{bench.percentile(result.latencies, 50) * 1000:6.1f}  "
            f"{bench.percentile(result.latencies, 99) * 1000:6.1f}  {server_errors:4d}"
            f"{result.server_cpu / requests * 1000:27.2f}{result.postgres_cpu / requests * 1000:9.2f}"
            f"{result.redis_cpu / requests * 1000:6.2f}"
        )
    ratio = _ratio(totals)
    verdict = "MET" if ratio >= TARGET_RATIO else "MISSED"
    print(f"  ratio 50 segments / none: {ratio:.3f} (target >= {TARGET_RATIO}: {verdict})")
    print(
        f"  ratio of each round: median {statistics.median(rounds):.3f}, {min(rounds):.3f}-{max(rounds):.3f} "
        f"({', '.join(f'{value:.3f}' for value in rounds)})"
    )
    return {"ratio": ratio}


def part_freshness(*, server: bench.Gunicorn, args, products) -> dict:
    from bench.freshness import Poster
    from segments.models import Membership
    from segments.record import journal_drain
    from segments.services import owner_segments
    from tracking.models import Event

    segments_switch(active=True)
    # bench-0: a view_item in the last 10 minutes; a fresh visitor enters it with its first view.
    slug = "bench-0"
    send_to_member, send_to_202, received_to_entered = [], [], []
    missing, poster = 0, Poster(server)
    for index in range(args.samples):
        visitor = bench.visitors_make(1, seed=10_000 + index)[0]
        owner = f"v:{visitor.visitor_id}"
        now_ms = int(time.time() * 1000)
        body = json.dumps({"sent_at": now_ms, "events": [_view_item_event(products[index % len(products)], now_ms)]})
        seen: list[float] = []
        deadline = time.perf_counter() + POLL_GIVE_UP_SECONDS

        def watch(owner=owner, seen=seen, deadline=deadline):
            while time.perf_counter() < deadline:
                if slug in owner_segments(owner=owner):
                    seen.append(time.perf_counter())
                    return

        watcher = threading.Thread(target=watch)
        began = time.perf_counter()
        watcher.start()
        status, took = poster.post("/t/collect", body.encode(), visitor)
        watcher.join()
        send_to_202.append(took * 1000)
        if not seen or status != 202:
            missing += 1
            continue
        send_to_member.append((seen[0] - began) * 1000)
        received = Event.objects.filter(visitor_id=visitor.visitor_id).values_list("received_at", flat=True).first()
        # The record takes the journal's rows in bulk (beat drains a quiet shop's every 2 s); the
        # entry keeps the moment it happened whenever it is drained.
        journal_drain()
        entered = (
            Membership.objects.filter(owner=owner, segment__slug=slug).values_list("entered_at", flat=True).first()
        )
        if received and entered:
            received_to_entered.append((entered - received).total_seconds() * 1000)
    print()
    print(f"Freshness with {SEGMENTS} segments, {args.samples} samples (ms): p50, p99, max")
    print("                               samples     p50     p99     max")
    _spread("send -> 202 (baseline)", send_to_202)
    _spread("send -> in the segment set", send_to_member)
    _spread("received_at -> entered_at", received_to_entered)
    p99 = bench.percentile(send_to_member, 99)
    verdict = "MET" if p99 <= TARGET_FRESHNESS_P99_MS else "MISSED"
    print(f"  missing: {missing}; p99 send -> member {p99:.1f} ms (target <= {TARGET_FRESHNESS_P99_MS} ms: {verdict})")
    return {"p99_ms": p99}


def _spread(name: str, values: list[float]) -> None:
    print(
        f"  {name:<28} {len(values):6d} {bench.percentile(values, 50):7.2f} {bench.percentile(values, 99):7.2f} "
        f"{max(values, default=float('nan')):7.2f}"
    )


def _view_item_event(product: int, ts: int) -> dict:
    return raw_event("view_item", ts_ms=ts, product_id=product, props={"price": 19.99, "currency": "GBP"})


def events_copy(rows) -> int:
    """COPY (visitor, name, product, properties, occurred_at) rows into the record; returns how many."""
    from django.db import connection

    from tracking.partitions import partitions_ensure

    now = datetime.now(UTC)
    partitions_ensure(start=now - timedelta(days=62), end=now + timedelta(days=1))
    columns = (
        "event_id, name, source, visitor_id, session_id, product_id, properties, client_ts, occurred_at, received_at"
    )
    buffer, count = io.StringIO(), 0

    def flush():
        buffer.seek(0)
        with connection.cursor() as cursor, cursor.copy(f"COPY tracking_event ({columns}) FROM STDIN") as copy:
            copy.write(buffer.read())
        buffer.seek(0)
        buffer.truncate()

    for visitor, session, name, product, properties, occurred in rows:
        stamp = occurred.isoformat()
        product_cell = "\\N" if product is None else str(product)
        properties_text = json.dumps(properties).replace("\\", "\\\\")
        buffer.write(
            f"{uuid.uuid4()}\t{name}\tweb\t{visitor}\t{session}\t{product_cell}\t{properties_text}\t{stamp}\t{stamp}\t{stamp}\n"
        )
        count += 1
        if count % 50_000 == 0:
            flush()
    flush()
    return count


def part_due(*, args, products) -> dict:
    from segments.models import Segment
    from segments.services import catalogue_forget, segments_backfill, segments_due_fire
    from shop.keyspace import redis_client, segment_due_key

    # One segment whose members leave spread-minutes after their one view: each visitor's exit
    # is a due-time; the visitors' views are spread so that the exits fall over the next minutes.
    Segment.objects.update(is_active=False)
    window = args.spread_minutes + 5
    Segment.objects.create(slug="bench-due", name="due", definition={"event": "view_item", "within": f"{window}m"})
    now = datetime.now(UTC)
    rng = random.Random(3)

    def rows():
        for index in range(args.pending):
            # Exits at minute(occurred) + window: from one minute from now to spread-minutes on.
            ago = timedelta(minutes=window) - timedelta(seconds=60 + rng.random() * args.spread_minutes * 60)
            yield uuid.UUID(int=index + 1), uuid.uuid4(), "view_item", products[index % len(products)], {}, now - ago

    copied = events_copy(rows())
    catalogue_forget()
    began = time.monotonic()
    segments_backfill()
    print(
        f"==> due: {copied} visitors in the segment, due-times set in {time.monotonic() - began:.1f} s", file=sys.stderr
    )
    pending = redis_client().zcard(segment_due_key())
    due_times = [int(score) for _, score in redis_client().zrange(segment_due_key(), 0, -1, withscores=True)]
    ticks, lateness, during_setup = [], [], 0
    stop = time.time() + args.due_minutes * 60
    next_tick = time.time()
    while time.time() < stop:
        time.sleep(max(0.0, next_tick - time.time()))
        ticks.append(time.time())
        result = segments_due_fire()
        for value in result.lateness_ms:
            # An exit due while the backfill above was still setting the due-times up is late by
            # the setup, not by the firing: counted apart, like the baseline leaves it out.
            if ticks[-1] - value / 1000 < ticks[0] - 1:
                during_setup += 1
            else:
                lateness.append(value / 1000)
        next_tick += BEAT_SECONDS
    # The schedule alone: each due-time that fell in the run waits for the first tick at or after it.
    last_tick = ticks[-1]
    schedule_only = []
    for due in due_times:
        if ticks[0] <= due <= last_tick:
            schedule_only.append(min(tick for tick in ticks if tick >= due) - due)
    print()
    print(
        f"Due-time lateness (s), {pending} visitors holding due-times, exits spread over {args.spread_minutes} min, "
        f"fired every {BEAT_SECONDS:g} s for {args.due_minutes} min"
    )
    print("                               exits     p50     p99     max")
    _spread("beat's schedule (baseline)", schedule_only)
    _spread("segments_due_fire", lateness)
    print(f"  exits due during the setup, fired at the first tick: {during_setup}")
    p99 = bench.percentile(lateness, 99)
    verdict = "MET" if p99 <= TARGET_LATENESS_P99_S else "MISSED"
    print(f"  p99 {p99:.2f} s (target: within {TARGET_LATENESS_P99_S} s of the moment: {verdict})")
    Segment.objects.filter(slug="bench-due").delete()
    return {"p99_s": p99}


def _measured(target, queue) -> None:
    began = time.monotonic()
    detail = target()
    queue.put((time.monotonic() - began, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, detail))


def _in_child(target) -> tuple[float, float, object]:
    """Seconds, peak resident MB and what target returned, run in a fresh forked process."""
    from django.db import connections

    # The child opens its own connection: one inherited over fork would be shared with this process.
    connections.close_all()
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_measured, args=(target, queue))
    child.start()
    while True:
        try:
            outcome = queue.get(timeout=1)
            break
        except Empty:
            if not child.is_alive():
                raise RuntimeError(f"the measured child exited with {child.exitcode}") from None
    child.join()
    return outcome


def _read_only():
    from segments.services import record_rows

    return sum(1 for _ in record_rows().iterator(chunk_size=5000))


def _backfill():
    from segments.services import catalogue_forget, segments_backfill

    catalogue_forget()
    result = segments_backfill()
    return result.owners


def part_backfill(*, args, products) -> dict:
    from django.db import connection

    from segments.models import Segment
    from tracking.models import Event

    Event.objects.all().delete()
    bench.redis_flush()
    Segment.objects.update(is_active=True)
    now = datetime.now(UTC)
    rng = random.Random(5)
    names = ["page_view", "view_item", "view_item", "impression", "impression", "add_to_cart", "search"]
    sessions = [uuid.uuid4() for _ in range(args.visitors)]

    def rows():
        for _ in range(args.events):
            visitor = rng.randrange(args.visitors)
            name = rng.choice(names)
            properties = {"device": rng.choice(["desktop", "phone", "tablet"])} if name == "page_view" else {}
            product = rng.choice(products) if name in ("view_item", "impression", "add_to_cart") else None
            occurred = now - timedelta(seconds=rng.random() * 30 * 86_400)
            yield uuid.UUID(int=visitor + 1), sessions[visitor], name, product, properties, occurred

    began = time.monotonic()
    copied = events_copy(rows())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tracking_event")
    print(f"==> backfill: {copied} events COPYed in {time.monotonic() - began:.0f} s", file=sys.stderr)
    read_seconds, read_mb, read_rows = _in_child(_read_only)
    fill_seconds, fill_mb, owners = _in_child(_backfill)
    print()
    print(f"Backfill: {copied} events, {owners} visitors, {SEGMENTS} segments")
    print("                                          seconds   peak MB")
    print(f"  read the same rows (baseline)           {read_seconds:7.1f}  {read_mb:8.0f}   ({read_rows} rows)")
    print(f"  segments_backfill                       {fill_seconds:7.1f}  {fill_mb:8.0f}")
    print(f"  x baseline                              {fill_seconds / read_seconds:7.2f}")
    return {"seconds": fill_seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS), help=f"Which of {', '.join(PARTS)} to run.")
    for flag, kind, default, meaning in OPTIONS:
        parser.add_argument(flag, type=kind, default=default, help=meaning)
    parser.add_argument("--redis-url", default=bench.REDIS_URL, help="Redis db of the run (flushed before and after).")
    parser.add_argument("--keep-database", action="store_true", help=f"Leave {NAME} behind for a look.")
    args = parser.parse_args()
    parts = [part for part in args.parts.split(",") if part]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; choose from {', '.join(PARTS)}")

    print(f"==> fresh database {NAME}, Redis {args.redis_url}, migrate, catalog, {SEGMENTS} segments", file=sys.stderr)
    bench.database_recreate(name=NAME)
    environment = {"BENCH_REDIS_URL": args.redis_url}
    bench.django_setup(settings=bench.SETTINGS, name=NAME, extra=environment)
    products = bench.catalog_seed(products=args.products)
    segments_create(products)
    visitors = bench.visitors_make(5000)
    try:
        if "ingest" in parts or "freshness" in parts:
            with bench.Gunicorn(settings=bench.SETTINGS, name=NAME, environment=environment) as server:
                if "ingest" in parts:
                    part_ingest(server=server, args=args, visitors=visitors, products=products)
                if "freshness" in parts:
                    part_freshness(server=server, args=args, products=products)
        if "due" in parts:
            part_due(args=args, products=products)
        if "backfill" in parts:
            part_backfill(args=args, products=products)
    finally:
        if not args.keep_database:
            from django.db import connections

            connections.close_all()
            bench.database_drop(name=NAME)
        bench.redis_flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
