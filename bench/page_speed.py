"""Storefront page speed against an earlier commit: home, category, search and product pages.

The earlier commit is checked out beside this tree (a detached git worktree, removed at the
end), and each tree gets its own throwaway database and Redis db, filled the same way by its
own commands: seed_demo, simulate_shoppers, retrain. Both run under their own gunicorn.conf.py
with the bench settings; phases alternate between them page by page (BASE, NOW, BASE, NOW, ...)
so both see the same machine noise, one client at a time by default, as a person browsing would.
The figure that matters is the speed-up: the baseline's time over this tree's, per page.

    .venv/bin/python bench/page_speed.py [--baseline 3a957fe] [--seconds 5] [--rounds 3] [--database shop_bench_x]
"""

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._server import (
    DATABASE_NAME,
    ROOT,
    Gunicorn,
    database_drop,
    database_recreate,
    percentile,
    server_environment,
)
from bench.page_latency import phase

# The commit the storefront's speed was first measured at (a product page: ~70 ms of server time
# at p50, 12 ms of it in 11 queries); the target is each page at least 2.5x faster than there.
BASELINE = "3a957fe"
TARGET_SPEEDUP = 2.5
PAGES = ("home", "category", "search", "product")
WORDS = re.compile(r"[A-Za-z]{4,}")


@dataclass
class Tree:
    label: str
    root: Path
    database: str
    redis_url: str

    def environment(self) -> dict:
        return {"BENCH_REDIS_URL": self.redis_url, "BENCH_CELERY_BROKER_URL": self.redis_url}

    def manage(self, *arguments: str) -> str:
        """A management command of this tree, on its database, in a process of its own."""
        completed = subprocess.run(
            [sys.executable, "manage.py", *arguments],
            cwd=self.root,
            env=server_environment(name=self.database, extra=self.environment(), root=self.root),
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode:
            raise RuntimeError(f"{self.label}: manage.py {' '.join(arguments)} failed:\n{completed.stderr[-3000:]}")
        return completed.stdout

    def prepare(self, *, products: int, visitors: int) -> None:
        database_recreate(name=self.database)
        subprocess.run(
            [sys.executable, "-c", f"import redis; redis.Redis.from_url({self.redis_url!r}).flushdb()"], check=True
        )
        for step in (
            ("migrate", "-v0"),
            ("seed_demo", "--products", str(products)),
            ("simulate_shoppers", "--visitors", str(visitors)),
            ("retrain",),
        ):
            print(f"  {self.label}: manage.py {' '.join(step)}", flush=True)
            self.manage(*step)

    def paths(self, *, visitors: int, seed: int) -> tuple[dict[str, list[str]], list[str]]:
        """Each page's paths, drawn from this tree's own catalogue, and its simulated shoppers' ids."""
        script = (
            "import json, django; django.setup()\n"
            "from shop.catalog.models import Category, Product\n"
            "from tracking.models import Event\n"
            "products = list(Product.objects.filter(is_active=True, stock__gt=0).values_list('slug', 'title'))\n"
            "categories = list(Category.objects.values_list('slug', flat=True))\n"
            f"visitors = [str(v) for v in Event.objects.values_list('visitor_id', flat=True).distinct()[:{visitors}]]\n"
            "print(json.dumps({'products': products, 'categories': categories, 'visitors': visitors}))\n"
        )
        completed = subprocess.run(
            [sys.executable, "-c", script],
            cwd=self.root,
            env=server_environment(name=self.database, extra=self.environment(), root=self.root),
            capture_output=True,
            text=True,
            check=True,
        )
        found = json.loads(completed.stdout.strip().splitlines()[-1])
        rng = random.Random(seed)
        products = rng.sample(found["products"], min(200, len(found["products"])))
        words = sorted({word.lower() for _, title in products for word in WORDS.findall(title)})
        paths = {
            "home": ["/"],
            "category": [f"/c/{slug}/" for slug in found["categories"]],
            "search": [f"/search/?q={word}" for word in rng.sample(words, min(50, len(words)))],
            "product": [f"/p/{slug}/" for slug, _ in products],
        }
        return paths, found["visitors"]


def worktree_add(commit: str) -> Path:
    place = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(place), commit], cwd=ROOT, check=True)
    return place


def worktree_remove(place: Path) -> None:
    subprocess.run(["git", "worktree", "remove", "--force", str(place)], cwd=ROOT, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default=BASELINE, help="the commit to compare with")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one phase")
    parser.add_argument("--rounds", type=int, default=3, help="BASE/NOW pairs per page")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--visitors", type=int, default=300)
    parser.add_argument("--redis-db", type=int, default=13, help="this tree's Redis db; the baseline takes the next")
    parser.add_argument(
        "--database", default=DATABASE_NAME, help="prefix of the two throwaway databases (two runs at once need two)"
    )
    args = parser.parse_args()

    place = worktree_add(args.baseline)
    trees = [
        Tree(f"base {args.baseline}", place, f"{args.database}_base", f"redis://127.0.0.1:6379/{args.redis_db + 1}"),
        Tree("now", ROOT, f"{args.database}_now", f"redis://127.0.0.1:6379/{args.redis_db}"),
    ]
    results: dict[tuple[str, str], list[float]] = {}
    try:
        print(
            f"preparing: {args.products} products, {args.visitors} simulated shoppers, models trained, per tree",
            flush=True,
        )
        for tree in trees:
            tree.prepare(products=args.products, visitors=args.visitors)
        drawn = [tree.paths(visitors=args.visitors, seed=1) for tree in trees]
        servers = [Gunicorn(name=tree.database, environment=tree.environment(), root=tree.root) for tree in trees]
        with servers[0] as base, servers[1] as now:
            for server, (paths, visitors) in zip((base, now), drawn, strict=True):
                for page in PAGES:  # warm: model snapshots, templates, prepared statements
                    phase(server.port, paths=paths[page], visitors=visitors, seconds=1, concurrency=1, seed=0)
            began = time.monotonic()
            for round_number in range(args.rounds):
                for page in PAGES:
                    for tree, server, (paths, visitors) in zip(trees, (base, now), drawn, strict=True):
                        results.setdefault((page, tree.label), []).extend(
                            phase(
                                server.port,
                                paths=paths[page],
                                visitors=visitors,
                                seconds=args.seconds,
                                concurrency=args.concurrency,
                                seed=round_number + 1,
                            )
                        )
                print(f"  round {round_number + 1}/{args.rounds} done, {time.monotonic() - began:.0f} s", flush=True)
    finally:
        for tree in trees:
            database_drop(name=tree.database)
        worktree_remove(place)

    base_label, now_label = trees[0].label, trees[1].label
    print(f"\nstorefront pages under gunicorn, {args.concurrency} client(s) on loopback, ms")
    print(f"{'page':10}{'base p50':>10}{'now p50':>10}{'base p99':>10}{'now p99':>10}{'speed-up p50':>14}{'p99':>7}")
    for page in PAGES:
        base, now = results[(page, base_label)], results[(page, now_label)]
        b50, n50, b99, n99 = (percentile(v, q) * 1000 for v, q in ((base, 50), (now, 50), (base, 99), (now, 99)))
        verdict = "meets" if b50 / n50 >= TARGET_SPEEDUP else "MISSES"
        print(
            f"{page:10}{b50:>10.1f}{n50:>10.1f}{b99:>10.1f}{n99:>10.1f}{b50 / n50:>13.2f}x{b99 / n99:>6.2f}x  {verdict}"
        )
    print(
        f"(target: each page's p50 at least {TARGET_SPEEDUP}x faster than {args.baseline}; requests per cell:"
        f" {min(len(v) for v in results.values())} or more)"
    )


if __name__ == "__main__":
    main()
