"""What forgiving typos costs a search: corrections and type-ahead beside the plain full-text search, in one run.

A throwaway database (shop_bench_search) gets the demo catalogue; then, for a mix of queries
with and without typos, the plain search (the first page and its count, as the results page
asks) is timed beside the correction the results page now also asks for and the type-ahead's
answer. Only the database is used (no Redis, no server): the figures are the selectors' own.

    .venv/bin/python bench/search_typos.py [--products 3000] [--repeats 30]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._server import database_drop, database_recreate, percentile, server_environment

NAME = "shop_bench_search"
QUERIES = ("shirt", "shrit", "linen shrit", "mug", "jakcet", "coffe", "wool cushion", "headphnoes", "xyzzy")
PREFIXES = ("sh", "shi", "shir", "shrit", "wool cu", "coffe", "head")


def timed(function, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    database_recreate(name=NAME)
    os.environ.update(server_environment(name=NAME))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from shop.catalog.selectors import ProductFilters, product_list, search_correction, search_suggestions

    try:
        quiet = {"stdout": open(os.devnull, "w"), "stderr": open(os.devnull, "w")}  # noqa: SIM115
        call_command("migrate", verbosity=0, interactive=False)
        call_command("seed_demo", products=args.products, shoppers=0, **quiet)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

        def plain(query: str):
            results = product_list(filters=ProductFilters(query=query))
            return results.count(), list(results[:24])

        def forgiving(query: str):
            correction = search_correction(query=query)
            results = product_list(filters=ProductFilters(query=query, correction=correction))
            return results.count(), list(results[:24])

        print(f"{args.products} products, {args.repeats} runs each; ms, p50 / p99")
        # "with it" finds what the correction finds, so it is also set beside a plain search of the
        # correction itself: the cost of the detour through the typo.
        print(
            f"{'query':16} {'plain search':>14} {'correction':>12} {'with it':>12} {'ratio p50':>10} "
            f"{'vs corrected':>12}  found"
        )
        ratios = []
        for query in QUERIES:
            base = timed(lambda q=query: plain(q), args.repeats)
            fix = timed(lambda q=query: search_correction(query=q), args.repeats)
            full = timed(lambda q=query: forgiving(q), args.repeats)
            ratio = statistics.median(full) / statistics.median(base)
            ratios.append(ratio)
            found, correction = forgiving(query)[0], search_correction(query=query)
            corrected = timed(lambda q=correction or query: plain(q), args.repeats)
            detour = statistics.median(full) / statistics.median(corrected)
            print(
                f"{query:16} {statistics.median(base):6.1f} / {percentile(base, 99):5.1f} "
                f"{statistics.median(fix):5.1f} / {percentile(fix, 99):4.1f} "
                f"{statistics.median(full):5.1f} / {percentile(full, 99):4.1f} {ratio:10.2f} {detour:12.2f}  "
                f"{plain(query)[0]} -> {found} ({correction or 'no correction'})"
            )
        print(f"search with corrections / plain search, p50: median {statistics.median(ratios):.2f}")
        print(f"\n{'type-ahead':16} {'ms p50 / p99':>14}  first suggestion")
        for prefix in PREFIXES:
            took = timed(lambda p=prefix: search_suggestions(term=p), args.repeats)
            first = search_suggestions(term=prefix)
            label = f"{first[0].kind}: {first[0].label}" if first else "none"
            print(f"{prefix:16} {statistics.median(took):6.1f} / {percentile(took, 99):5.1f}  {label}")
    finally:
        connection.close()
        database_drop(name=NAME)


if __name__ == "__main__":
    main()
