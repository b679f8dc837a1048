"""Simulate shoppers of distinct personas through the real ingest path, or as load on a running server."""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from shop.progress import progress_bar
from shop.simulator.services import SimulationError, SimulationReport, shoppers_simulate, shoppers_simulate_http

COLUMNS = ("visitors", "sessions", "events", "accepted", "duplicates", "rejected", "skipped", "orders")


class Command(BaseCommand):
    help = (
        "Simulate --visitors shoppers (bargain hunters, brand loyalists, window shoppers, mission shoppers, "
        "gift explorers, loyal regulars) over the last --days. In-process by default; with --url, post their "
        "browser events to that server's collector as load."
    )

    def add_arguments(self, parser):
        parser.add_argument("--visitors", type=int, default=200, help="How many visitors (default 200).")
        parser.add_argument("--seed", type=int, default=1, help="The same seed, the same visitors and event ids.")
        parser.add_argument("--days", type=float, default=6.0, help="Length of the simulated window ending now.")
        parser.add_argument("--users", type=int, default=0, help="The first K visitors sign in as shopper1..K.")
        parser.add_argument(
            "--url", help="Post to the collector of this server (loopback only), e.g. http://127.0.0.1:8000."
        )
        parser.add_argument(
            "--concurrency", type=int, default=4, help="Visitors simulated at once, each on a thread (default 4)."
        )
        parser.add_argument(
            "--rate", type=float, default=0, help="HTTP mode: requests per second at most (0: no limit)."
        )
        parser.add_argument("--max-seconds", type=float, default=60, help="HTTP mode: stop sending after this long.")

    def handle(self, *args, visitors, seed, days, users, url, concurrency, rate, max_seconds, **options):
        if visitors < 1 or users < 0:
            raise CommandError("--visitors must be at least 1 and --users not negative.")
        if url and users:
            raise CommandError("--users signs visitors in on the server side; it works in-process only.")
        with progress_bar(self, total=visitors, desc="Simulating shoppers", unit="visitor") as bar:
            try:
                if url:
                    report = shoppers_simulate_http(
                        url=url,
                        visitors=visitors,
                        seed=seed,
                        days=days,
                        concurrency=concurrency,
                        rate=rate,
                        max_seconds=max_seconds,
                        progress=bar.update,
                    )
                else:
                    report = shoppers_simulate(
                        visitors=visitors, seed=seed, days=days, users=users, progress=bar.update
                    )
            except SimulationError as error:
                raise CommandError(str(error)) from error
            except DatabaseError as error:
                raise CommandError(f"The simulation could not store its events: {error}") from error
        self._summary(report)

    def _summary(self, report: SimulationReport) -> None:
        write = self.stdout.write
        width = max([len("persona"), *map(len, report.by_persona)]) + 2
        write(f"{'persona':<{width}}" + "".join(f"{name:>11}" for name in COLUMNS))
        rows = [*sorted(report.by_persona.items()), ("total", report.total)]
        for key, tally in rows:
            write(f"{key:<{width}}" + "".join(f"{getattr(tally, name):>11}" for name in COLUMNS))
        if report.reasons:
            write(
                "rejected by reason: "
                + ", ".join(f"{reason} {count}" for reason, count in report.reasons.most_common())
            )
        if report.http is not None:
            statuses = report.http.statuses
            p50, p99 = report.http.percentile(0.50), report.http.percentile(0.99)
            write(
                "HTTP answers: "
                + ", ".join(f"{kind} {statuses.get(kind, 0)}" for kind in ("202", "4xx", "429", "5xx", "error"))
                + (f"; latency p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms" if p50 is not None else "")
            )
            write("Skipped: the server records cart, checkout, purchase and login itself; they are not posted.")
            if report.not_started:
                write(f"{report.not_started} visitors not started: --max-seconds ran out.")
        total = report.total
        style = self.style.SUCCESS if not total.rejected else self.style.WARNING
        write(
            style(
                f"{total.visitors} visitors ({report.mode}, seed {report.seed}, window ending "
                f"{report.window_end:%Y-%m-%d %H:%M} UTC): {total.accepted} events stored, {total.duplicates} already "
                f"there, {total.rejected} rejected, {total.orders} orders; {report.elapsed:.1f} s, "
                f"{report.events_per_second:,.0f} events/s."
            )
        )
