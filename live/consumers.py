"""The tracker's socket: batches in through the collector's own checks and ingest, pushes out to the page.

A frame is one JSON object with a "type":

- {"type": "batch", "id": ..., "sent_at": ..., "events": [...]}, the collector's body plus an id;
  answered {"type": "ack", "id", "ids": the event ids now stored (or stored before), "accepted",
  "duplicates", "rejected", "slide"?: renew the session cookie over HTTP} once committed, or
  {"type": "nack", "id", "error", "detail", "retry_after"?} when nothing was taken (a limit, the
  store away), to be sent again;
- {"type": "hello", "page", "products", "seq"}: which slots this page shows, and the last push it
  saw (none on a fresh page); answered {"type": "welcome", "seq"} and the pushes it missed;
- {"type": "ping"}: the page is still open and looked at; answered {"type": "pong"}.

Pushes go out as {"type": "push", "seq", "kind", "cause", "slots": {slot name: html}, "resync"};
kind "cart" (a cart change) also has the tracker fetch the page's cart pieces (orders:cart_fragments).
Everything refused closes the socket with one of CLOSES' codes and its reason, never a crash.
"""

import asyncio
import json
import logging
import uuid
import weakref
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from shop.client_address import peer_address, peer_bucket
from tracking.collector import BatchRefused, batch_collect, batch_parse, origin_allowed
from tracking.identity import TrackingContext, context_from_cookies, cookie_headers

from .pushes import CART, Push, pushes_since, visitor_group
from .render import MAX_PAGE_PRODUCTS, PAGES, slots_render

logger = logging.getLogger(__name__)

# Close codes: 1003 and 1009 are the protocol's own (unsupported data, message too big); the
# 4000s are this channel's, after the HTTP status the collector would answer.
CLOSES = {
    "binary_frame": 1003,
    "frame_too_large": 1009,
    "server_error": 1011,
    "bad_frame": 4400,
    "consent_required": 4401,
    "origin_not_allowed": 4403,
    "idle": 4408,
    "slow_client": 4409,
    "identity_changed": 4410,
    "session_ended": 4440,
    "flood": 4429,
}
MAX_BATCH_ID = 64
# Group joins and leaves in flight at once per process: the layer's pool (1,000 connections, see
# CHANNEL_LAYERS) refuses past its size instead of waiting, and 5,000 sockets closing together
# overran it. A burst waits here instead.
GROUP_CALLS = 200
_gates: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = weakref.WeakKeyDictionary()


def _group_gate() -> asyncio.Semaphore:
    """This event loop's bound on group calls (a semaphore belongs to one loop)."""
    loop = asyncio.get_running_loop()
    if loop not in _gates:
        _gates[loop] = asyncio.Semaphore(GROUP_CALLS)
    return _gates[loop]


@dataclass
class FrameBudget:
    """Frames a socket may send: `burst` at once, refilled at `rate` a second (a token bucket)."""

    rate: float
    burst: int
    tokens: float
    at: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


class LiveConsumer(AsyncWebsocketConsumer):
    visitor_id: uuid.UUID | None = None
    closing = False
    # The last push this page has been sent; None until its hello.
    seq: int | None = None
    page: str | None = None
    products: tuple[int, ...] = ()

    async def connect(self):
        # Accepted first so that a refusal can say why: a handshake refused is only an HTTP 403.
        refusal = self._refusal()
        if refusal:
            await self.accept()
            await self._close(refusal)
            return
        # The answer sets the tracking cookies as any page's does: the session slides from now.
        secure = self.scope.get("scheme") == "wss" or _header(self.scope, b"x-forwarded-proto") == "https"
        await self.accept(headers=cookie_headers(self.context, secure=secure))
        loop = asyncio.get_running_loop()
        self.slid_at = loop.time()
        self.budget = FrameBudget(
            rate=settings.LIVE_FRAMES_PER_SECOND,
            burst=settings.LIVE_FRAME_BURST,
            tokens=settings.LIVE_FRAME_BURST,
            at=loop.time(),
        )
        self.last_frame = loop.time()
        self.watchdog = asyncio.create_task(self._watch_idle())
        self.group = visitor_group(self.visitor_id)
        async with _group_gate():
            await self.channel_layer.group_add(self.group, self.channel_name)

    def _refusal(self) -> str | None:
        """Why this handshake may not go on: a foreign origin, no consent; else None and who it is."""
        if not origin_allowed(_header(self.scope, b"origin")):
            return "origin_not_allowed"
        context = context_from_cookies(self.scope.get("cookies", {}))
        # A visitor id minted here would be nobody's: the page that opens the socket has one.
        if not context.granted or context.new_visitor:
            return "consent_required"
        user = self.scope.get("user")
        self.context: TrackingContext = context
        self.visitor_id = context.visitor_id
        self.session_id = context.session_id
        self.user_id = user.pk if user is not None and user.is_authenticated else None
        remote = (self.scope.get("client") or ("",))[0] or ""
        self.address = peer_bucket(peer_address(remote=remote, forwarded=_header(self.scope, b"x-forwarded-for") or ""))
        return None

    async def disconnect(self, code):
        self.closing = True
        if self.visitor_id is None or not hasattr(self, "group"):
            return
        self.watchdog.cancel()
        async with _group_gate():
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _close(self, reason: str) -> None:
        """Close with the reason's code. The close handshake runs as a task of its own: uvicorn's
        close waits for the client's reply, which it reads only once the frames queued before it
        are taken, and this consumer goes on taking (and dropping) them meanwhile."""
        if not self.closing:
            self.closing = True
            self.closer = asyncio.create_task(self.close(code=CLOSES[reason], reason=reason))

    async def _send(self, payload: dict) -> None:
        """Send, or close when the client has not taken what was sent before within the timeout."""
        try:
            await asyncio.wait_for(self.send(text_data=json.dumps(payload)), settings.LIVE_SEND_TIMEOUT_SECONDS)
        except TimeoutError:
            await self._close("slow_client")
        except OSError:
            # The client went away while this was on its way (uvicorn's ClientDisconnected): the
            # disconnect that follows ends the consumer; a batch it was the ack of is resent.
            self.closing = True

    async def _watch_idle(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.closing:
            left = self.last_frame + settings.LIVE_IDLE_SECONDS - loop.time()
            if left <= 0:
                await self._close("idle")
                return
            await asyncio.sleep(left)

    async def receive(self, text_data=None, bytes_data=None):
        if self.closing:
            return
        loop = asyncio.get_running_loop()
        self.last_frame = loop.time()
        try:
            await self._frame(text_data, now=self.last_frame)
        except Exception:
            logger.exception("live socket frame failed")
            await self._close("server_error")

    async def _frame(self, text: str | None, *, now: float) -> None:
        if text is None:
            await self._close("binary_frame")
            return
        if not self.budget.take(now):
            await self._close("flood")
            return
        try:
            frame = batch_parse(text)
        except BatchRefused as refused:
            await self._close("frame_too_large" if refused.status == 413 else "bad_frame")
            return
        kind = frame.get("type")
        if kind == "batch":
            await self._batch(frame)
        elif kind == "hello":
            await self._hello(frame)
        elif kind == "ping":
            await self._send({"type": "pong"})
        else:
            await self._close("bad_frame")

    def _session_check(self, now: float) -> str:
        """Where this batch stands with the session cookie, which the socket cannot set once open:
        "ended" when it has expired in the browser (the last slide is older than a session; the
        batch goes over HTTP, which starts the next, as it would have without the socket), "slide"
        past half its life (the ack asks the page to renew it over HTTP), else "alive"."""
        age = now - self.slid_at
        session = settings.TRACKING_SESSION_MINUTES * 60
        if age > session:
            return "ended"
        if age > session / 2:
            self.slid_at = now
            return "slide"
        return "alive"

    async def _batch(self, frame: dict) -> None:
        batch_id = frame.get("id")
        if not isinstance(batch_id, str | int) or isinstance(batch_id, bool) or len(str(batch_id)) > MAX_BATCH_ID:
            await self._close("bad_frame")
            return
        session = self._session_check(asyncio.get_running_loop().time())
        if session == "ended":
            await self._close("session_ended")
            return
        try:
            result = await database_sync_to_async(batch_collect)(
                batch=frame,
                visitor_id=self.visitor_id,
                user_id=self.user_id,
                session_id=self.session_id,
                address=self.address,
            )
        except BatchRefused as refused:
            await self._send({"type": "nack", "id": batch_id, **refused.as_json()})
            return
        refused_at = {item["index"] for item in result.rejected}
        ids = [event["event_id"] for index, event in enumerate(frame["events"]) if index not in refused_at]
        slide = {"slide": True} if session == "slide" else {}
        await self._send({"type": "ack", "id": batch_id, "ids": ids, **result.as_json(), **slide})

    async def _hello(self, frame: dict) -> None:
        page, products, seq = frame.get("page"), frame.get("products"), frame.get("seq")
        self.page = page if page in PAGES else None
        if isinstance(products, list):
            wanted = [pk for pk in products if isinstance(pk, int) and not isinstance(pk, bool) and pk > 0]
            self.products = tuple(wanted[:MAX_PAGE_PRODUCTS])
        fresh = not isinstance(seq, int) or isinstance(seq, bool) or seq < 0
        latest, pushes, whole = await sync_to_async(pushes_since)(visitor_id=self.visitor_id, after=0 if fresh else seq)
        # A fresh page was rendered from the profile as it is: it has seen everything up to now.
        self.seq = latest if fresh else seq
        await self._send({"type": "welcome", "seq": self.seq})
        if not fresh:
            await self._deliver(latest=latest, pushes=pushes, whole=whole)

    async def push_ready(self, message: dict) -> None:
        """A push was logged for this visitor (pushes.READY): send what this page has not had."""
        if self.seq is None or self.closing:
            return
        latest, pushes, whole = await sync_to_async(pushes_since)(visitor_id=self.visitor_id, after=self.seq)
        await self._deliver(latest=latest, pushes=pushes, whole=whole)

    async def identity_changed(self, message: dict) -> None:
        """The visitor signed in or out in another tab (pushes.IDENTITY): this socket's cookies name
        a session that is gone, so it closes and the page opens it again with the current ones."""
        await self._close("identity_changed")

    async def _deliver(self, *, latest: int, pushes: list[Push], whole: bool) -> None:
        """The pushes in order, each with one render of the page's slots as they are now (a cart
        change also tells the tracker to fetch the cart's pieces); when some are gone from the
        log, one fresh render numbered latest, as a cart change, for a cart change may be among them."""
        if not whole:
            pushes = [Push(seq=latest, kind=CART, cause="resync")]
        slots = None
        for push in pushes:
            if self.closing:
                return
            if slots is None and self.page:
                slots = await database_sync_to_async(slots_render)(
                    page=self.page, products=self.products, user_id=self.user_id, visitor_id=self.visitor_id
                )
            payload = {"type": "push", "seq": push.seq, "kind": push.kind, "cause": push.cause, "resync": not whole}
            await self._send({**payload, "slots": slots or {}})
            self.seq = push.seq
