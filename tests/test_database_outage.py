"""The shop while its database is unreachable: pages say 503 with Retry-After, not a server error."""

import http.client
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from bench._server import USER_AGENT, Gunicorn, free_port
from shop.views import server_error_view
from tracking.payloads import raw_event
from tracking.registry import Source
from tracking.validation import event_validate

# Nothing listens on this port while the test runs, so every connection attempt is refused at once,
# as during a Postgres restart or outage; the shared cluster itself is never touched.
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server():
    environment = {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/shop_unreachable",
        "GUNICORN_WORKERS": "1",
    }
    with Gunicorn(settings="shop.settings.test", environment=environment, healthy=False) as server:
        yield server


def _request(server: Gunicorn, method: str, path: str, *, body: bytes = b"", headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, body=body or None, headers={"User-Agent": USER_AGENT, **(headers or {})})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        conn.close()


@pytest.mark.parametrize("path", ["/", "/search/?q=mug", "/cart/", "/account/login/"])
def test_pages_answer_503_with_retry_after(server, path):
    status, headers, body = _request(server, "GET", path)
    assert status == 503, body[:500]
    assert int(headers["Retry-After"]) > 0
    assert headers["Content-Type"].startswith("text/html")
    assert "try again" in body.lower()


def test_healthz_says_unhealthy(server):
    status, headers, body = _request(server, "GET", "/healthz")
    assert status == 503
    assert json.loads(body) == {"status": "unavailable", "detail": "the database does not answer"}
    assert int(headers["Retry-After"]) > 0


def test_the_collector_keeps_its_json_503(server):
    # A valid event, so the plain insert (outside a transaction, with its one reconnect) is what
    # meets the outage, not the rejected-event path.
    event = raw_event("page_view", props={"page_location": "/"})
    assert event_validate(event, received_at=timezone.now(), skew=timedelta(0), source=Source.WEB)
    batch = {"events": [event]}
    status, headers, body = _request(
        server,
        "POST",
        "/t/collect",
        body=json.dumps(batch).encode(),
        headers={
            "Content-Type": "application/json",
            "Origin": "http://127.0.0.1",
            "Cookie": "ll_consent=granted; ll_vid=0d4c1bde-7a7e-4b8e-9a61-5a3f4c2e9d10",
        },
    )
    assert status == 503, body
    assert json.loads(body)["error"] == "store_unavailable"
    assert headers["Retry-After"] == "2"


def test_any_other_error_stays_the_500_page(rf):
    try:
        raise ValueError("a bug, not an outage")
    except ValueError:
        response = server_error_view(rf.get("/"))
    assert response.status_code == 500
    assert "Retry-After" not in response
    assert "went wrong" in response.content.decode().lower()
