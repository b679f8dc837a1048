"""The nginx edge: valid config, the one published port, whose forwarded headers count, slow clients kept out."""

import http.client
import http.server
import threading
from pathlib import Path

import pytest
import yaml

from bench._nginx import NGINX, SKIP_REASON, Nginx, config_local, config_test
from bench._server import Gunicorn, free_port
from bench.slowloris import healthy_wait, slowloris_probe

ROOT = Path(__file__).resolve().parent.parent
# Any database that answers SELECT 1 serves /healthz; the trickled requests never reach a view.
LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
needs_nginx = pytest.mark.skipif(NGINX is None, reason=SKIP_REASON)


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_only_nginx_publishes_a_port(services):
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"nginx"}
    nginx = services["nginx"]
    assert nginx["image"].split(":")[0] == "nginx", "the official image"
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in nginx["volumes"]
    assert nginx["depends_on"]["web"]["condition"] == "service_healthy"
    assert "/healthz" in " ".join(nginx["healthcheck"]["test"])


def test_nginx_serves_the_static_files_the_image_collected(services):
    static_mounts = {volume.split(":")[0] for volume in services["nginx"]["volumes"] if ":/srv/static" in volume}
    copied = {volume.split(":")[0] for volume in services["static"]["volumes"] if volume.endswith(":/srv/static")}
    assert static_mounts and static_mounts == copied
    assert "/app/staticfiles" in " ".join(services["static"]["command"])
    assert services["nginx"]["depends_on"]["static"]["condition"] == "service_completed_successfully"


@needs_nginx
def test_shipped_config_passes_nginx_t(tmp_path):
    config = tmp_path / "nginx.conf"
    tmp_path.chmod(0o755)
    config.write_text(config_local(upstream_port=free_port(), listen_port=free_port(), prefix=tmp_path))
    result = config_test(config)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@pytest.fixture(scope="module")
def edge():
    """gunicorn as shipped but with one worker (two threads: a few slow clients are enough to take
    them all), and nginx as shipped in front of it."""
    if NGINX is None:
        pytest.skip(SKIP_REASON)
    environment = {"DATABASE_URL": LOCAL_POSTGRES, "GUNICORN_WORKERS": "1"}
    with (
        Gunicorn(settings="shop.settings.test", environment=environment) as gunicorn,
        Nginx(upstream_port=gunicorn.port) as nginx,
    ):
        yield gunicorn, nginx


@pytest.mark.timeout(90)
def test_healthz_answers_through_nginx_while_slow_clients_trickle(edge):
    gunicorn, nginx = edge
    # The same trickle straight at gunicorn takes every thread: its /healthz stops answering.
    direct = slowloris_probe(
        target="gunicorn",
        attack_port=gunicorn.port,
        probe_port=gunicorn.port,
        connections=20,
        seconds=2,
        probe_timeout=1,
    )
    assert direct.probes and not direct.latencies, direct
    assert healthy_wait(gunicorn.port), gunicorn.log_problems()

    proxied = slowloris_probe(
        target="nginx", attack_port=nginx.port, probe_port=nginx.port, connections=20, seconds=3, probe_timeout=1
    )
    assert proxied.failures == 0, proxied
    assert len(proxied.latencies) >= 4
    # nginx still holds every slow connection: it outwaits them, it does not just cut them off.
    assert proxied.trickling == 20


def test_static_files_come_from_nginx(edge):
    _, nginx = edge
    conn = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=5)
    try:
        conn.request("GET", "/static/css/shop.css")
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status == 200
    assert body == (ROOT / "static" / "css" / "shop.css").read_bytes()
    # nginx's own caching header: the file did not come through gunicorn.
    assert response.getheader("Cache-Control") == "max-age=604800"
    assert response.getheader("X-Content-Type-Options") == "nosniff"


class _Echo(http.server.BaseHTTPRequestHandler):
    """An upstream that answers every request and keeps the headers nginx sent it."""

    seen: list[dict] = []

    def do_GET(self):
        _Echo.seen.append(dict(self.headers))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def _get_from(source: str, port: int, headers: dict) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5, source_address=(source, 0))
    connection.request("GET", "/anything", headers=headers)
    connection.getresponse().read()
    connection.close()


@needs_nginx
def test_forwarded_headers_are_believed_from_the_trusted_address_only():
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    spoofed = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    try:
        with Nginx(upstream_port=upstream.server_address[1]) as nginx:
            _Echo.seen.clear()
            # 127.0.0.2 is this machine too, but not the one address the shipped config trusts.
            _get_from("127.0.0.2", nginx.port, spoofed)
            _get_from("127.0.0.1", nginx.port, spoofed)
    finally:
        upstream.shutdown()
    untrusted, trusted = _Echo.seen
    assert (untrusted["X-Forwarded-For"], untrusted["X-Forwarded-Proto"]) == ("127.0.0.2", "http")
    assert (trusted["X-Forwarded-For"], trusted["X-Forwarded-Proto"]) == ("203.0.113.9", "https")


@pytest.fixture
def live_edge(live_asgi):
    """nginx as shipped in front of gunicorn and of the live channel's uvicorn (tests/live/conftest.py)."""
    if NGINX is None:
        pytest.skip(SKIP_REASON)
    environment = {"DATABASE_URL": LOCAL_POSTGRES, "GUNICORN_WORKERS": "1"}
    with (
        Gunicorn(settings="shop.settings.test", environment=environment) as gunicorn,
        Nginx(upstream_port=gunicorn.port, live_port=live_asgi.port) as nginx,
    ):
        yield nginx


@pytest.mark.django_db(transaction=True)
def test_the_live_socket_goes_through_nginx_with_its_close_reasons(live_edge):
    import json
    import uuid

    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    url = f"ws://127.0.0.1:{live_edge.port}/ws/live"
    origin = f"http://127.0.0.1:{live_edge.port}"
    cookie = f"ll_consent=granted; ll_vid={uuid.uuid4()}; ll_sid={uuid.uuid4()}"
    with connect(url, origin=origin, additional_headers={"Cookie": cookie}, open_timeout=5) as socket:
        socket.send(json.dumps({"type": "ping"}))
        assert json.loads(socket.recv(timeout=5)) == {"type": "pong"}
    with connect(url, origin=origin, open_timeout=5) as socket, pytest.raises(ConnectionClosed) as closed:
        socket.recv(timeout=5)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, "consent_required")
