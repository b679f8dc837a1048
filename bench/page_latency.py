"""Product page latency with every personalized slot vs the same page with personalization off.

Two gunicorn servers run the production settings on one throwaway database: one serves
slots, the other has PERSONALIZATION_ENABLED=0, where the same shelves show the newest
products without reading a profile or a model, so the pages carry the same number of
product cards and the ratio measures personalization, not page size. Phases alternate between them (ON, OFF,
ON, OFF, ...) so both see the same machine noise; the figure that matters is the ratio.
Visitors carry consent and visitor cookies of simulated shoppers, so their live profiles
steer the slots as in production.

    .venv/bin/python bench/page_latency.py [--seconds 8] [--rounds 3] [--concurrency 4]
        [--redis-db 13] [--database shop_bench]
"""

import argparse
import http.client
import json
import random
import re
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._server import (
    DATABASE_NAME,
    USER_AGENT,
    Gunicorn,
    database_drop,
    database_recreate,
    django_setup,
    percentile,
)
from tracking.payloads import raw_event

# The target of the issue: the personalized page's p99 at most 15% above the plain page's.
TARGET_P99_RATIO = 1.15


def prepare(
    *, products: int, visitors: int, name: str = DATABASE_NAME, extra: dict | None = None
) -> tuple[list[str], list[str], list[int]]:
    """Seed a catalog, simulate shoppers through the real ingest path, train and serve models
    (on database name, with extra in the environment, e.g. another BENCH_REDIS_URL)."""
    database_recreate(name=name)
    django_setup(name=name, extra=extra)
    from django.core.management import call_command

    from shop.catalog.models import Product
    from tracking.models import Event

    quiet = {"stdout": open("/dev/null", "w"), "stderr": open("/dev/null", "w")}  # noqa: SIM115
    call_command("seed_demo", products=products, **quiet)
    call_command("simulate_shoppers", visitors=visitors, **quiet)
    call_command("retrain", **quiet)
    slugs = list(Product.objects.active().in_stock().values_list("slug", flat=True))
    visitor_ids = [str(v) for v in Event.objects.values_list("visitor_id", flat=True).distinct()[:visitors]]
    bought = list(Event.objects.filter(name="add_to_cart").values_list("product_id", flat=True).distinct())
    return slugs, visitor_ids, bought


def phase(
    port: int, *, paths: list[str], visitors: list[str], seconds: float, concurrency: int, seed: int
) -> list[float]:
    """GETs of paths (picked at random) by visitors with consent from concurrency keep-alive
    connections for seconds; the latency of each answer (anything but 200 stops the run)."""
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        while time.perf_counter() < deadline:
            visitor = rng.choice(visitors)
            headers = {"User-Agent": USER_AGENT, "Cookie": f"ll_consent=granted; ll_vid={visitor}"}
            began = time.perf_counter()
            try:
                conn.request("GET", rng.choice(paths), headers=headers)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                continue
            if response.status != 200:
                raise RuntimeError(f"{response.status} from a page")
            mine.append(time.perf_counter() - began)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    return latencies


SLOT_SECTION = re.compile(r'data-slot-block="home_recommended"(.*?)</section>', re.S)
PRODUCT_ID = re.compile(r'data-product-id="(\d+)"')


def _home_slot(conn: http.client.HTTPConnection, cookie: str) -> list[str]:
    conn.request("GET", "/", headers={"User-Agent": USER_AGENT, "Cookie": cookie})
    body = conn.getresponse().read().decode()
    section = SLOT_SECTION.search(body)
    return PRODUCT_ID.findall(section.group(1)) if section else []


def freshness(port: int, *, products: list[int], samples: int, seed: int) -> tuple[list[float], int]:
    """From an add_to_cart sent by a new visitor to the next home page whose "Recommended for
    you" has changed because of it; returns the times and how many samples changed at all."""
    import uuid

    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times, changed = [], 0
    origin = f"http://127.0.0.1:{port}"
    for _ in range(samples):
        cookie = f"ll_consent=granted; ll_vid={uuid.uuid4()}"
        before = _home_slot(conn, cookie)
        product = rng.choice(products)
        event = raw_event("add_to_cart", product_id=product, props={"quantity": 1})
        began = time.perf_counter()
        conn.request(
            "POST",
            "/t/collect",
            body=json.dumps({"events": [event]}),
            headers={"Content-Type": "application/json", "Origin": origin, "Cookie": cookie, "User-Agent": USER_AGENT},
        )
        answer = conn.getresponse()
        answer.read()
        if answer.status != 202:
            raise RuntimeError(f"collector answered {answer.status}")
        after = _home_slot(conn, cookie)
        times.append(time.perf_counter() - began)
        changed += after != before
    conn.close()
    return times, changed


def page_arguments(parser: argparse.ArgumentParser, *, seconds: float, rounds: str) -> None:
    """The options of a bench that alternates page phases on a prepared shop."""
    parser.add_argument("--seconds", type=float, default=seconds, help="length of one phase")
    parser.add_argument("--rounds", type=int, default=3, help=rounds)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--visitors", type=int, default=300)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    page_arguments(parser, seconds=8.0, rounds="ON/OFF pairs")
    parser.add_argument("--samples", type=int, default=200, help="freshness samples")
    parser.add_argument("--redis-db", type=int, default=13, help="the Redis db of the run (flushed)")
    parser.add_argument("--database", default=DATABASE_NAME, help="the run's throwaway database (shop_bench*)")
    args = parser.parse_args()
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    redis = {"BENCH_REDIS_URL": redis_url, "BENCH_CELERY_BROKER_URL": redis_url}

    print(f"preparing: {args.products} products, {args.visitors} simulated shoppers, models trained ...", flush=True)
    slugs, visitors, carted = prepare(products=args.products, visitors=args.visitors, name=args.database, extra=redis)
    paths = [f"/p/{slug}/" for slug in slugs]
    results: dict[str, list[float]] = {"on": [], "off": []}
    try:
        with (
            Gunicorn(name=args.database, environment=redis) as on,
            Gunicorn(name=args.database, environment={**redis, "PERSONALIZATION_ENABLED": "0"}) as off,
        ):
            for server in (on, off):  # warm: first requests load model snapshots and templates
                phase(server.port, paths=paths, visitors=visitors, seconds=2, concurrency=args.concurrency, seed=0)
            for round_number in range(args.rounds):
                for kind, server in (("on", on), ("off", off)):
                    results[kind] += phase(
                        server.port,
                        paths=paths,
                        visitors=visitors,
                        seconds=args.seconds,
                        concurrency=args.concurrency,
                        seed=round_number + 1,
                    )
            fresh, changed = freshness(on.port, products=carted, samples=args.samples, seed=1)
    finally:
        database_drop(name=args.database)
    rows = {kind: (len(v), percentile(v, 50) * 1000, percentile(v, 99) * 1000) for kind, v in results.items()}
    print(f"\nproduct page, gunicorn (gunicorn.conf.py), {args.concurrency} concurrent clients on loopback")
    print(f"{'':26}{'requests':>10}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'personalized slots':26}{rows['on'][0]:>10}{rows['on'][1]:>10.1f}{rows['on'][2]:>10.1f}")
    print(f"{'off: shelves of new items':26}{rows['off'][0]:>10}{rows['off'][1]:>10.1f}{rows['off'][2]:>10.1f}")
    p50_ratio, p99_ratio = rows["on"][1] / rows["off"][1], rows["on"][2] / rows["off"][2]
    verdict = "meets" if p99_ratio <= TARGET_P99_RATIO else "MISSES"
    print(f"ratio on/off: p50 {p50_ratio:.2f}, p99 {p99_ratio:.2f} ({verdict} the target of {TARGET_P99_RATIO})")
    print(
        f"\nfreshness, add_to_cart sent -> next home page's 'Recommended for you' rendered: "
        f"p50 {percentile(fresh, 50) * 1000:.1f} ms, p99 {percentile(fresh, 99) * 1000:.1f} ms; "
        f"the slot changed in {changed} of {len(fresh)} samples"
    )


if __name__ == "__main__":
    main()
