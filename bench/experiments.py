"""Pages with 5 running experiments vs none: p99 ratio in one gunicorn, and Redis round trips per page.

    .venv/bin/python bench/experiments.py [--seconds 10] [--rounds 3] [--redis-url redis://127.0.0.1:6379/14]

One gunicorn (bench.settings) on its own database, shop_bench_exp, and the Redis db of --redis-url
(flushed before and after; default 13). Five experiments run on the slots of the home and product
pages: two that split home_recommended's traffic in one layer (other hybrid weights), one on
home_trending (popularity against trending), one on product_similar (itemknn against content) and a
bandit on product_also_bought. Phases alternate, page by page, between the published document of
the five and an empty one (the order turning each round; the same Redis key, read in the page's
one pipeline either way), so both see the same machine noise.

Before the clock starts every simulated shopper renders each page once, in this process, which
records their exposures of the day: what is measured is assignment on every page; the exposure
write happens once a visitor, experiment and day, and is counted. Round trips are counted in this
process too, rendering each page through Django's test client with the Redis connection's sends
counted (tests/experiments/test_serving.py asserts the same for the home page).
"""

import argparse
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._server import REDIS_URL, Gunicorn, database_drop, percentile, redis_flush
from bench.page_latency import page_arguments, phase, prepare

NAME = "shop_bench_exp"
TARGET_P99_RATIO = 1.05
PAGES = ("home", "product")
# Every hybrid part keeps a weight above zero, so a treatment blends as many parts as the control
# (a part weighted 0 is skipped, and a cheaper variant would flatter the ratio).
A_WEIGHTS = {"collaborative": 1.0, "content": 1.0, "recency": 0.2, "popularity": 0.1}
B_WEIGHTS = {"collaborative": 0.5, "content": 0.2, "recency": 1.0, "popularity": 0.5}


def _experiments_start() -> None:
    """The five experiments, started through the service a merchandiser's start goes through."""
    from experiments.models import Experiment, Variant
    from experiments.services import experiment_start

    designs = [
        ("Home weights A", "home_recommended", "home", 0, Variant.Kind.WEIGHTS, A_WEIGHTS, ""),
        ("Home weights B", "home_recommended", "home", 50, Variant.Kind.WEIGHTS, B_WEIGHTS, ""),
        ("Trending or popular", "home_trending", "trending", 0, Variant.Kind.ALGORITHM, {}, "popularity"),
        ("Similar by co-views", "product_similar", "similar", 0, Variant.Kind.ALGORITHM, {}, "itemknn"),
    ]
    for name, slot, layer, start, kind, weights, algorithm in designs:
        experiment = Experiment.objects.create(
            name=name, slot=slot, layer=layer, traffic_start=start, traffic_percent=50 if layer == "home" else 100
        )
        experiment.variants.create(key="control", is_control=True, weight=50)
        experiment.variants.create(key="treatment", weight=50, kind=kind, weights=weights, algorithm=algorithm)
        experiment_start(experiment=experiment)
    bandit = Experiment.objects.create(
        name="Also bought bandit",
        slot="product_also_bought",
        layer="bandit",
        mode=Experiment.Mode.BANDIT,
        split_percent=10,
        bandit_shares={"control": 0.4, "treatment": 0.6},
    )
    bandit.variants.create(key="control", is_control=True, weight=50)
    bandit.variants.create(key="treatment", weight=50, kind=Variant.Kind.ALGORITHM, algorithm="content")
    experiment_start(experiment=bandit)


@contextmanager
def _round_trips() -> Iterator[list]:
    """Every command or pipeline this process sends to Redis while inside: one entry a round trip."""
    from redis.connection import Connection

    sent: list = []
    original = Connection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    Connection.send_packed_command = counting
    try:
        yield sent
    finally:
        Connection.send_packed_command = original


def _client(visitor: str):
    from django.test import Client

    client = Client(SERVER_NAME="127.0.0.1")
    client.cookies["ll_consent"], client.cookies["ll_vid"] = "granted", visitor
    return client


def _exposures_record(*, visitors: list[str], paths: dict[str, list[str]]) -> None:
    """Every shopper renders each page once, in this process, so the day's exposures are recorded
    before the clock starts (a visitor's later pages read the mark and write nothing)."""
    for number, visitor in enumerate(visitors):
        client = _client(visitor)
        for page in PAGES:
            assert client.get(paths[page][number % len(paths[page])]).status_code == 200


def _round_trips_per_page(*, paths: dict[str, list[str]], visitor: str) -> dict[str, int]:
    """Redis round trips of one render of each page, for a shopper whose exposures are recorded."""
    client = _client(visitor)
    counts = {}
    for page in PAGES:
        with _round_trips() as sent:
            assert client.get(paths[page][0]).status_code == 200
        counts[page] = len(sent)
    return counts


def _assignment_microseconds(*, raw: bytes, visitors: list[str], repeats: int = 20) -> float:
    """CPU of one page's assignment (the published document read, each experiment's hash), in
    this process: what the running phases add to a page's Python work."""
    import time

    from experiments.assignment import assignment_for, published_read
    from tracking.owners import owner_key

    owners = [owner_key(user_id=None, visitor_id=uuid.UUID(visitor)) for visitor in visitors]
    began = time.process_time()
    for _ in range(repeats):
        for owner in owners:
            assignment_for(owner=owner, experiments=published_read(raw), holdout_percent=0.0)
    return (time.process_time() - began) / (repeats * len(owners)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    page_arguments(parser, seconds=10.0, rounds="running/none pairs per page")
    parser.add_argument("--redis-url", default=REDIS_URL, help="Redis db of the run (flushed before and after).")
    args = parser.parse_args()
    environment = {"BENCH_REDIS_URL": args.redis_url}

    print(f"preparing: {args.products} products, {args.visitors} simulated shoppers, models trained, "
          f"database {NAME}, Redis {args.redis_url} ...", flush=True)  # fmt: skip
    slugs, visitors, _ = prepare(products=args.products, visitors=args.visitors, name=NAME, extra=environment)
    from django.db import connection

    from shop.keyspace import experiments_key, redis_client
    from tracking.models import Event

    _experiments_start()
    redis = redis_client()
    documents = {"running": redis.get(experiments_key()), "none": b"[]"}
    paths = {"home": ["/"], "product": [f"/p/{slug}/" for slug in slugs]}
    cpu = _assignment_microseconds(raw=documents["running"], visitors=visitors)
    _exposures_record(visitors=visitors, paths=paths)
    trips = {}
    for kind, raw in documents.items():
        redis.set(experiments_key(), raw)
        trips[kind] = _round_trips_per_page(paths=paths, visitor=visitors[0])
    connection.close()
    results: dict[tuple[str, str], list[float]] = {(page, kind): [] for page in PAGES for kind in documents}

    def run(page: str, kind: str, *, seconds: float, seed: int) -> list[float]:
        redis.set(experiments_key(), documents[kind])
        return phase(
            server.port, paths=paths[page], visitors=visitors, seconds=seconds, concurrency=args.concurrency, seed=seed
        )

    try:
        with Gunicorn(name=NAME, environment=environment) as server:
            for page in PAGES:  # warm: model snapshots and templates in the workers
                for kind in documents:
                    run(page, kind, seconds=2, seed=0)
            exposures_before = Event.objects.filter(name="experiment_exposure").count()
            connection.close()
            for round_number in range(args.rounds):
                # the order turns each round, so neither kind always follows the other
                order = list(documents)[:: 1 if round_number % 2 == 0 else -1]
                for page in PAGES:
                    for kind in order:
                        results[page, kind] += run(page, kind, seconds=args.seconds, seed=round_number + 1)
            exposures_during = Event.objects.filter(name="experiment_exposure").count() - exposures_before
            connection.close()
    finally:
        redis_flush()
        database_drop(name=NAME)
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"\ngunicorn (gunicorn.conf.py), {args.concurrency} concurrent clients on loopback; load average {load}")
    print(f"{'':34}{'requests':>10}{'p50 ms':>10}{'p99 ms':>10}{'Redis trips':>13}")
    labels = {"running": "5 running experiments", "none": "no experiments"}
    for page in PAGES:
        for kind in documents:
            values = results[page, kind]
            p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
            print(f"{page + ' page, ' + labels[kind]:34}{len(values):>10}{p50:>10.1f}{p99:>10.1f}"
                  f"{trips[kind][page]:>13}")  # fmt: skip
    for page in PAGES:
        running, none = results[page, "running"], results[page, "none"]
        ratio = percentile(running, 99) / percentile(none, 99)
        verdict = "meets" if ratio <= TARGET_P99_RATIO else "MISSES"
        print(f"{page} page: p50 ratio {percentile(running, 50) / percentile(none, 50):.2f}, "
              f"p99 ratio {ratio:.2f} ({verdict} the target of {TARGET_P99_RATIO})")  # fmt: skip
    same = all(trips["running"][page] == trips["none"][page] for page in PAGES)
    print(f"Redis round trips per page (counted in this process): {'the same' if same else 'MORE'} with experiments; "
          f"exposures stored while measuring: {exposures_during} (before it: {exposures_before})")  # fmt: skip
    print(f"assignment to the five, in this process: {cpu:.0f} µs of CPU a page")


if __name__ == "__main__":
    main()
