"""Where simulated events go: the shop's own ingest call in this process, or a running server's collector."""

import http.client
import ipaddress
import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.utils import timezone

from tracking.identity import CONSENT_COOKIE, GRANTED, SESSION_COOKIE, VISITOR_COOKIE
from tracking.models import Event
from tracking.registry import EventName, Source
from tracking.services import event_ingest, identity_link

from .checkout import purchase_place
from .engine import SIM_ORDER_PREFIX, SimVisitor, session_batches

# Events per ingest call or request. The tracker flushes at 20 and the collector takes
# up to 100; 25 keeps batches browser-sized while halving the calls of 10-event batches.
BATCH_EVENTS = 25
COLLECT_PATH = "/t/collect"
USER_AGENT = "shop-simulator/1.0 (simulate_shoppers)"
# A 429 says when to come back; a 5xx or a dropped connection is retried with backoff
# (0.25 s doubling), as the tracker does, and given up after this many attempts.
MAX_ATTEMPTS = 6
BACKOFF_SECONDS = 0.25
REQUEST_TIMEOUT = 15.0


@dataclass
class VisitorOutcome:
    """What became of one visitor's events."""

    sessions: int = 0
    events: int = 0  # generated
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    # Not sent: server-recorded events over HTTP (the collector refuses them), or past the time limit.
    skipped: int = 0
    orders: int = 0
    reasons: Counter = field(default_factory=Counter)


def _outcome(visitor: SimVisitor) -> VisitorOutcome:
    return VisitorOutcome(sessions=len(visitor.sessions), events=len(visitor.events), orders=visitor.orders)


class InProcessSink:
    """Calls tracking.services.event_ingest, the collector's own ingest, with the simulated
    times as client times: received_at is now and sent_at None, so no skew correction moves them."""

    def visitor_send(self, visitor: SimVisitor, *, user_id: int | None = None) -> VisitorOutcome:
        outcome = _outcome(visitor)
        outcome.orders = 0  # counted as they are placed: a sold-out cart is no order
        # Visitor and event ids are derived from the seed, so a re-run meets its own events;
        # those already stored are not sent again, whatever hour the re-run's window ends in.
        # Asked by visitor (an index scan): a list of 200 event ids made the planner scan the
        # whole partition, 115 ms a visitor at 300,000 events.
        stored = {
            str(pk) for pk in Event.objects.filter(visitor_id=visitor.visitor_id).values_list("event_id", flat=True)
        }
        signed_in: int | None = None
        # The engine's placeholder order numbers -> the real orders' (None: could not be bought).
        numbers: dict[str, str | None] = {}
        for session in visitor.sessions:
            for batch in session_batches(session, size=BATCH_EVENTS):
                fresh = [event.raw for event in batch if event.raw["event_id"] not in stored]
                outcome.duplicates += len(batch) - len(fresh)
                fresh = self._through_checkout(
                    fresh, visitor=visitor, user_id=signed_in, numbers=numbers, outcome=outcome
                )
                if batch[0].name == EventName.LOGIN and user_id is not None:
                    # As on a real sign-in: link first, then record the login as the user's.
                    if fresh:
                        identity_link(visitor_id=visitor.visitor_id, user_id=user_id)
                    signed_in = user_id
                if not fresh:
                    continue
                result = event_ingest(
                    events=fresh,
                    visitor_id=visitor.visitor_id,
                    user_id=signed_in,
                    session_id=session.session_id,
                    source=batch[0].source,
                    sent_at=None,
                    received_at=timezone.now(),
                )
                outcome.accepted += result.accepted
                outcome.duplicates += result.duplicates
                outcome.rejected += len(result.rejected)
                outcome.reasons.update(item["reason"] for item in result.rejected)
        return outcome

    @staticmethod
    def _through_checkout(
        raws: list[dict], *, visitor: SimVisitor, user_id: int | None, numbers: dict, outcome: VisitorOutcome
    ) -> list[dict]:
        """Each purchase placed as a real order first, and the events renumbered to it; a cart that
        cannot be bought any more (sold out since) sends neither its purchase nor its order page."""
        sent = []
        for raw in raws:
            if raw["name"] == EventName.PURCHASE:
                placed = purchase_place(
                    visitor_index=visitor.index, visitor_id=visitor.visitor_id, purchase=raw, user_id=user_id
                )
                numbers[raw["props"]["transaction_id"]] = placed.order.number if placed.order else None
                if placed.order is None:
                    outcome.reasons[f"order_not_placed:{placed.reason}"] += 1
                else:
                    outcome.orders += 1
            text = json.dumps(raw)
            if SIM_ORDER_PREFIX in text:
                placeholder = next((number for number in numbers if number in text), None)
                if placeholder is None or numbers[placeholder] is None:
                    outcome.skipped += 1
                    continue
                raw = json.loads(text.replace(placeholder, numbers[placeholder]))
            sent.append(raw)
        return sent


def url_check(url: str) -> tuple[str, int, str]:
    """(host, port, origin) of an http URL on this machine; ValueError for anything else.

    Load goes to loopback only: a simulator pointed at somebody else's server by a typo
    would be an attack, not a test.
    """
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"{url!r} is not an http:// URL")
    host = parts.hostname
    loopback = host == "localhost"
    if not loopback:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
    if not loopback:
        raise ValueError(f"{host} is not a loopback address (127.0.0.0/8, ::1 or localhost)")
    port = parts.port or 80
    return host, port, f"http://{parts.netloc}"


@dataclass
class HttpStats:
    """Answers by kind and request latencies, shared by the sending threads."""

    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, kind: str, latency: float | None = None) -> None:
        with self.lock:
            self.statuses[kind] += 1
            if latency is not None:
                self.latencies.append(latency)

    def percentile(self, share: float) -> float | None:
        """Nearest-rank percentile of the latencies, in seconds."""
        with self.lock:
            ordered = sorted(self.latencies)
        if not ordered:
            return None
        rank = max(1, min(len(ordered), round(share * len(ordered) + 0.5)))
        return ordered[rank - 1]


def status_kind(status: int) -> str:
    if status == 202:
        return "202"
    if status == 429:
        return "429"
    if status >= 500:
        return "5xx"
    if status >= 400:
        return "4xx"
    return str(status)


class Pacer:
    """Spaces requests of all threads to at most rate per second (no limit at 0)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next_slot = 0.0
        self.lock = threading.Lock()

    def wait(self, *, deadline: float) -> bool:
        """Sleeps until this request's turn; False when that turn falls after the deadline."""
        if not self.interval:
            return time.monotonic() < deadline
        with self.lock:
            now = time.monotonic()
            slot = max(now, self.next_slot)
            if slot >= deadline:
                return False
            self.next_slot = slot + self.interval
        time.sleep(max(0.0, slot - now))
        return True


class HttpSink:
    """Posts each visitor's browser events to a running server's collector, as its tracker would.

    Each visitor has its own cookies (consent, visitor id, the session's id). Event times
    become "now" when sent: the collector refuses nothing for age, and corrects clock
    skew against sent_at. Server-recorded events (cart, checkout, purchase, login) are
    not sent: the collector accepts browser events only.
    """

    def __init__(self, *, url: str, rate: float, deadline: float, stats: HttpStats | None = None) -> None:
        self.host, self.port, self.origin = url_check(url)
        self.pacer = Pacer(rate)
        self.deadline = deadline
        self.stats = stats or HttpStats()
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT)
            self._local.connection = connection
        return connection

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
        self._local.connection = None

    def close(self) -> None:
        self._drop_connection()

    def _sleep(self, seconds: float) -> bool:
        """Sleeps, but never past the deadline; False when the deadline came first."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(seconds, remaining))
        return time.monotonic() < self.deadline

    def post(self, *, body: bytes, cookies: str) -> tuple[int, dict] | None:
        """One batch, retried on 429 (after Retry-After) and 5xx (with backoff); the final
        answer's status and JSON, or None when it was never answered in time."""
        headers = {
            "Content-Type": "application/json",
            "Origin": self.origin,
            "Cookie": cookies,
            "User-Agent": USER_AGENT,
        }
        for attempt in range(MAX_ATTEMPTS):
            if not self.pacer.wait(deadline=self.deadline):
                return None
            started = time.perf_counter()
            try:
                connection = self._connection()
                connection.request("POST", COLLECT_PATH, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                self.stats.record("error")
                self._drop_connection()
                if not self._sleep(BACKOFF_SECONDS * 2**attempt * random.uniform(0.5, 1.0)):
                    return None
                continue
            self.stats.record(status_kind(response.status), time.perf_counter() - started)
            if response.status == 429:
                try:
                    wait = float(response.getheader("Retry-After") or 1)
                except ValueError:
                    wait = 1.0
                if not self._sleep(wait):
                    return None
                continue
            if response.status >= 500:
                if not self._sleep(BACKOFF_SECONDS * 2**attempt * random.uniform(0.5, 1.0)):
                    return None
                continue
            try:
                answer = json.loads(payload or b"{}")
            except ValueError:
                answer = {}
            return response.status, answer if isinstance(answer, dict) else {}
        return None

    def visitor_send(self, visitor: SimVisitor, *, user_id: int | None = None) -> VisitorOutcome:
        outcome = _outcome(visitor)
        sent = 0
        for session in visitor.sessions:
            cookies = "; ".join(
                (
                    f"{CONSENT_COOKIE}={GRANTED}",
                    f"{VISITOR_COOKIE}={visitor.visitor_id}",
                    f"{SESSION_COOKIE}={session.session_id}",
                )
            )
            for batch in session_batches(session, size=BATCH_EVENTS, sources=(Source.WEB,)):
                if time.monotonic() >= self.deadline:
                    break
                now_ms = int(time.time() * 1000)
                # The simulated clock compressed to now: one millisecond apart, in order.
                events = [{**event.raw, "ts": now_ms - (len(batch) - 1 - i)} for i, event in enumerate(batch)]
                answered = self.post(body=json.dumps({"sent_at": now_ms, "events": events}).encode(), cookies=cookies)
                if answered is None:
                    continue
                sent += len(batch)
                status, answer = answered
                if "accepted" in answer:
                    outcome.accepted += int(answer.get("accepted") or 0)
                    outcome.duplicates += int(answer.get("duplicates") or 0)
                    rejected = answer.get("rejected") or []
                    outcome.rejected += len(rejected)
                    outcome.reasons.update(str(item.get("reason")) for item in rejected if isinstance(item, dict))
                else:
                    outcome.rejected += len(batch)
                    outcome.reasons[str(answer.get("error") or f"http_{status}")] += len(batch)
        outcome.skipped = outcome.events - sent
        return outcome
