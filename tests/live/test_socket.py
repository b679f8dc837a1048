"""The tracker's socket: the collector's checks and exactly-once ingest, acks after commit, refusals with a reason."""

import contextlib
import json
import time
import uuid

import pytest
from websockets.exceptions import ConnectionClosed

from tests.factories.tracking import RawEventFactory
from tracking.models import Event, RejectedEvent

pytestmark = pytest.mark.django_db(transaction=True)


def answer(socket) -> dict:
    return json.loads(socket.recv(timeout=5))


def closed_with(socket) -> tuple[int, str]:
    """The code and reason of the close the server sends (frames before it are skipped)."""
    try:
        while True:
            socket.recv(timeout=5)
    except ConnectionClosed as closed:
        return closed.rcvd.code, closed.rcvd.reason


def test_a_batch_is_acknowledged_with_its_ids_once_stored_and_a_resent_one_is_stored_once(live_asgi, visitor):
    events = RawEventFactory.build_batch(25)
    with live_asgi.socket(visitor.cookies) as socket:
        socket.send(json.dumps({"type": "batch", "id": 1, "sent_at": events[0]["ts"], "events": events}))
        first = answer(socket)
        stored_at_ack = Event.objects.filter(visitor_id=visitor.visitor_id).count()
        socket.send(json.dumps({"type": "batch", "id": 2, "events": events}))
        second = answer(socket)
    assert first["type"] == "ack" and first["id"] == 1
    assert first["ids"] == [event["event_id"] for event in events]
    assert (first["accepted"], first["duplicates"], first["rejected"]) == (25, 0, [])
    assert stored_at_ack == 25
    assert (second["type"], second["accepted"], second["duplicates"]) == ("ack", 0, 25)
    assert Event.objects.count() == 25
    assert set(Event.objects.values_list("session_id", flat=True)) == {visitor.session_id}


def test_a_bad_event_is_refused_with_its_reason_and_the_good_ones_beside_it_are_stored(live_asgi, visitor):
    good = RawEventFactory()
    bad = {"event_id": str(uuid.uuid4()), "name": "no_such_event", "ts": good["ts"]}
    with live_asgi.socket(visitor.cookies) as socket:
        socket.send(json.dumps({"type": "batch", "id": "b1", "events": [bad, good]}))
        ack = answer(socket)
    assert ack["ids"] == [good["event_id"]]
    assert [item["reason"] for item in ack["rejected"]] == ["unknown_event"]
    assert list(Event.objects.values_list("event_id", flat=True)) == [uuid.UUID(good["event_id"])]
    assert RejectedEvent.objects.count() == 1


def test_the_collector_limits_hold_on_the_socket(live_asgi, visitor, settings):
    settings.TRACKING_RATE_PER_VISITOR = 30
    with live_asgi.socket(visitor.cookies) as socket:
        answers = []
        for number in range(2):
            socket.send(json.dumps({"type": "batch", "id": number, "events": RawEventFactory.build_batch(20)}))
            answers.append(answer(socket))
        for body in ({"events": RawEventFactory.build_batch(101)}, {"events": []}, {"events": {}}):
            socket.send(json.dumps({"type": "batch", "id": 9, **body}))
            answers.append(answer(socket))
    ok, limited, too_long, empty, shapeless = answers
    assert ok["type"] == "ack"
    assert limited["type"] == "nack" and limited["error"] == "rate_limited" and limited["retry_after"] > 0
    assert [too_long["error"], empty["error"], shapeless["error"]] == ["batch_too_long", "empty_batch", "bad_batch"]
    assert Event.objects.count() == 20


@pytest.mark.parametrize(
    ("jar", "origin", "code", "reason"),
    [
        ("granted", "https://evil.example", 4403, "origin_not_allowed"),
        ("granted", None, 4403, "origin_not_allowed"),
        ("denied", "http://testserver", 4401, "consent_required"),
        ("none", "http://testserver", 4401, "consent_required"),
        ("no_visitor", "http://testserver", 4401, "consent_required"),
    ],
)
def test_a_socket_without_consent_or_from_a_foreign_origin_is_closed_with_a_reason(
    live_asgi, visitor, jar, origin, code, reason
):
    cookies = {
        "granted": visitor.cookies,
        "denied": {**visitor.cookies, "ll_consent": "denied"},
        "none": {},
        "no_visitor": {"ll_consent": "granted"},
    }[jar]
    with live_asgi.socket(cookies, origin=origin) as socket:
        with contextlib.suppress(ConnectionClosed):
            socket.send(json.dumps({"type": "batch", "id": 1, "events": [RawEventFactory()]}))
        assert closed_with(socket) == (code, reason)
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("frame", "code", "reason"),
    [
        (b"\x00\x01binary", 1003, "binary_frame"),
        ("{not json", 4400, "bad_frame"),
        ("[1, 2]", 4400, "bad_frame"),
        ('{"type": "shout"}', 4400, "bad_frame"),
        ("[" * 10_000 + "]" * 10_000, 4400, "bad_frame"),
        (json.dumps({"type": "batch", "id": {"x": 1}, "events": [{}]}), 4400, "bad_frame"),
        (json.dumps({"type": "batch", "id": 1, "events": [{"pad": "x" * 70_000}]}), 1009, "frame_too_large"),
    ],
)
def test_bad_frames_close_the_socket_with_a_reason_and_store_nothing(live_asgi, visitor, frame, code, reason):
    with live_asgi.socket(visitor.cookies) as socket:
        socket.send(frame)
        assert closed_with(socket) == (code, reason)
    assert not Event.objects.exists()
    assert not RejectedEvent.objects.exists()


def test_a_frame_past_twice_the_limit_is_cut_by_the_protocol_before_it_is_read(live_asgi, visitor, settings):
    with live_asgi.socket(visitor.cookies) as socket:
        socket.send("x" * (2 * settings.TRACKING_MAX_BODY_BYTES + 1))
        code, _ = closed_with(socket)
    assert code == 1009
    # The server is still there for the next shopper.
    with live_asgi.socket(visitor.cookies) as socket:
        socket.send(json.dumps({"type": "ping"}))
        assert answer(socket) == {"type": "pong"}


def test_a_flood_of_frames_is_cut_off(live_asgi, visitor, settings):
    settings.LIVE_FRAME_BURST = 5
    settings.LIVE_FRAMES_PER_SECOND = 1
    with live_asgi.socket(visitor.cookies) as socket:
        try:
            for _ in range(50):
                socket.send(json.dumps({"type": "ping"}))
        except ConnectionClosed:
            pass
        assert closed_with(socket) == (4429, "flood")


def test_a_silent_socket_is_closed_after_the_idle_time_and_a_heartbeat_keeps_it(live_asgi, visitor, settings):
    settings.LIVE_IDLE_SECONDS = 0.6
    with live_asgi.socket(visitor.cookies) as socket:
        for _ in range(3):  # 0.9 s in all, each heartbeat within the idle time
            time.sleep(0.3)
            socket.send(json.dumps({"type": "ping"}))
            assert answer(socket) == {"type": "pong"}
        started = time.monotonic()
        assert closed_with(socket) == (4408, "idle")
    assert 0.4 < time.monotonic() - started < 2


def test_two_hundred_sockets_opening_at_once_are_all_served(live_asgi, visitor):
    """redis-py refuses a command past its pool instead of waiting; a burst of handshakes joining
    their groups at once must all be served."""
    import asyncio

    from websockets.asyncio.client import connect

    async def one():
        cookie = "; ".join(f"{name}={value}" for name, value in type(visitor)().cookies.items())
        async with connect(
            f"ws://127.0.0.1:{live_asgi.port}/ws/live",
            origin="http://testserver",
            additional_headers={"Cookie": cookie},
        ) as socket:
            await socket.send(json.dumps({"type": "hello", "page": None}))
            return json.loads(await asyncio.wait_for(socket.recv(), 20))["type"]

    async def burst():
        return await asyncio.gather(*(one() for _ in range(200)), return_exceptions=True)

    answers = asyncio.run(burst())
    assert answers == ["welcome"] * 200


def test_opening_the_socket_slides_the_session_cookie_as_a_page_load_does(live_asgi, visitor, settings):
    with live_asgi.socket(visitor.cookies) as socket:
        cookies = socket.response.headers.get_all("Set-Cookie")
    session = next(cookie for cookie in cookies if cookie.startswith("ll_sid="))
    assert session.startswith(f"ll_sid={visitor.session_id};")
    assert f"Max-Age={settings.TRACKING_SESSION_MINUTES * 60}" in session and "HttpOnly" in session
    assert any(cookie.startswith(f"ll_vid={visitor.visitor_id};") for cookie in cookies)


def test_a_long_open_socket_asks_the_page_to_slide_its_session_and_a_lapsed_one_sends_the_batch_to_http(
    live_asgi, visitor, settings
):
    """The session cookie lives TRACKING_SESSION_MINUTES from its last renewal, as over HTTP:
    past half of it an ack asks the page to renew it (GET tracking:session); past all of it the
    browser's cookie is gone, so the socket closes and the batch goes over HTTP, which starts the
    next session as it would have without the socket."""
    settings.TRACKING_SESSION_MINUTES = 0.03  # 1.8 s

    def batch(socket, number):
        socket.send(json.dumps({"type": "batch", "id": number, "events": [RawEventFactory()]}))
        return answer(socket)

    with live_asgi.socket(visitor.cookies) as socket:
        assert "slide" not in batch(socket, 1)
        time.sleep(1.1)
        assert batch(socket, 2)["slide"] is True
        assert "slide" not in batch(socket, 3)
        time.sleep(2)
        late = RawEventFactory()
        socket.send(json.dumps({"type": "batch", "id": 4, "events": [late]}))
        assert closed_with(socket) == (4440, "session_ended")
    assert Event.objects.filter(visitor_id=visitor.visitor_id).count() == 3
    assert not Event.objects.filter(event_id=late["event_id"]).exists()
