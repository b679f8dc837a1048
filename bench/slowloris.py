"""Slow clients against gunicorn alone and behind nginx: /healthz latency while 20 connections trickle a body.

    .venv/bin/python bench/slowloris.py [--connections 20] [--seconds 20]

gunicorn runs as shipped (gunicorn.conf.py, bench settings); nginx runs as shipped
(deploy/nginx.conf, derived for loopback by bench/_nginx.py) in front of the same gunicorn. Each
phase opens the trickling connections, then asks /healthz every half second with a timeout, and
closes everything when its time is up. Loopback only; every loop is bounded in count and time.
"""

import argparse
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._server import USER_AGENT, http_get, percentile

# The collector: public, and it reads the whole body once the Origin and the consent cookie pass,
# which any client can send. Under its 64 kB limit, so nothing refuses the request early.
ATTACK_PATH = "/t/collect"
BODY_BYTES = 60_000
# One byte per connection this often: well inside nginx's client_body_timeout (10 s), so nginx
# keeps every connection open for the whole phase and has to hold them, not just time them out.
TRICKLE_INTERVAL = 1.0
PROBE_EVERY = 0.5
DATABASE_NAME = "shop_bench_slowloris"


@dataclass
class ProbeResult:
    target: str
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    trickling: int = 0

    @property
    def probes(self) -> int:
        return len(self.latencies) + self.failures


def _trickler(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    head = (
        f"POST {ATTACK_PATH} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"User-Agent: {USER_AGENT}\r\n"
        "Content-Type: application/json\r\n"
        "Origin: http://127.0.0.1\r\n"
        "Cookie: ll_consent=granted\r\n"
        f"Content-Length: {BODY_BYTES}\r\n\r\n"
    )
    sock.sendall(head.encode() + b'{"events": "')
    return sock


def slowloris_probe(
    *, target: str, attack_port: int, probe_port: int, connections: int, seconds: float, probe_timeout: float
) -> ProbeResult:
    """Trickle a request body on `connections` sockets to attack_port while /healthz is asked on
    probe_port; returns every probe's latency (answered 200) or failure (timeout, error, other status)."""
    result = ProbeResult(target)
    sockets = [_trickler(attack_port) for _ in range(connections)]
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(TRICKLE_INTERVAL):
            for sock in list(sockets):
                try:
                    sock.sendall(b"a")
                except OSError:
                    sockets.remove(sock)

    trickler = threading.Thread(target=trickle, daemon=True)
    trickler.start()
    # Let the server take the connections up before the first probe.
    time.sleep(TRICKLE_INTERVAL)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            began = time.perf_counter()
            try:
                status, _ = http_get(probe_port, "/healthz", timeout=probe_timeout)
            except OSError:
                status = None
            elapsed = time.perf_counter() - began
            if status == 200:
                result.latencies.append(elapsed)
            else:
                result.failures += 1
            time.sleep(max(0.0, PROBE_EVERY - elapsed))
    finally:
        stop.set()
        trickler.join(TRICKLE_INTERVAL + 5)
        result.trickling = len(sockets)
        for sock in sockets:
            sock.close()
    return result


def healthy_wait(port: int, *, seconds: float = 30) -> bool:
    """Until /healthz answers again once the trickling connections are gone (gunicorn frees its threads)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if http_get(port, "/healthz", timeout=2)[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def _row(result: ProbeResult) -> list[str]:
    answered = len(result.latencies)
    return [
        result.target,
        f"{answered}/{result.probes}",
        f"{result.failures}",
        f"{percentile(result.latencies, 50) * 1000:.1f}" if answered else "-",
        f"{max(result.latencies) * 1000:.1f}" if answered else "-",
        f"{result.trickling}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--probe-timeout", type=float, default=5.0)
    options = parser.parse_args()
    assert 1 <= options.connections <= 200 and 0 < options.seconds <= 120, "keep the load bounded"

    from bench._nginx import NGINX, SKIP_REASON, Nginx
    from bench._server import Gunicorn, database_drop, database_recreate

    if NGINX is None:
        print(SKIP_REASON, file=sys.stderr)
        return 1
    database_recreate(name=DATABASE_NAME)
    try:
        with Gunicorn(name=DATABASE_NAME) as gunicorn, Nginx(upstream_port=gunicorn.port) as nginx:
            common = {"connections": options.connections, "seconds": options.seconds}
            direct = slowloris_probe(
                target="gunicorn alone",
                attack_port=gunicorn.port,
                probe_port=gunicorn.port,
                probe_timeout=options.probe_timeout,
                **common,
            )
            if not healthy_wait(gunicorn.port):
                print("gunicorn did not recover after the direct phase", file=sys.stderr)
                return 1
            proxied = slowloris_probe(
                target="behind nginx",
                attack_port=nginx.port,
                probe_port=nginx.port,
                probe_timeout=options.probe_timeout,
                **common,
            )
            problems = gunicorn.log_problems(5)
    finally:
        database_drop(name=DATABASE_NAME)

    print(
        f"{options.connections} connections trickling a {BODY_BYTES:,}-byte body to {ATTACK_PATH} "
        f"(1 byte/s each) for "
        f"{options.seconds:.0f} s; /healthz asked every {PROBE_EVERY} s with a {options.probe_timeout:.0f} s timeout"
    )
    headers = ["target", "answered", "failed", "p50 ms", "max ms", "trickling at end"]
    rows = [headers, _row(direct), _row(proxied)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(headers))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    if problems:
        print(f"\ngunicorn's log (last lines):\n{problems}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
