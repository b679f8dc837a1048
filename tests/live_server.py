"""uvicorn serving the ASGI application as deployed (live.serve) on loopback, in a thread, and a consenting visitor."""

import threading
import time
import uuid
from dataclasses import dataclass, field

import pytest
from websockets.sync.client import connect

from bench._server import free_port
from tracking.identity import CONSENT_COOKIE, GRANTED, SESSION_COOKIE, VISITOR_COOKIE

ORIGIN = "http://testserver"


@dataclass
class Visitor:
    visitor_id: uuid.UUID = field(default_factory=uuid.uuid4)
    session_id: uuid.UUID = field(default_factory=uuid.uuid4)
    consent: str = GRANTED

    @property
    def cookies(self) -> dict[str, str]:
        return {
            CONSENT_COOKIE: self.consent,
            VISITOR_COOKIE: str(self.visitor_id),
            SESSION_COOKIE: str(self.session_id),
        }


@dataclass
class LiveServer:
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def socket(self, cookies: dict[str, str], *, origin: str | None = ORIGIN, **options):
        """A WebSocket to /ws/live with these cookies and this Origin header (options: the client's own)."""
        headers = {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}
        return connect(
            f"ws://127.0.0.1:{self.port}/ws/live",
            origin=origin,
            additional_headers=headers,
            open_timeout=5,
            close_timeout=2,
            max_size=None,
            **options,
        )


@pytest.fixture(scope="session")
def live_asgi(django_db_setup, django_db_blocker):
    """uvicorn as live.serve configures it, in a thread of this process: it reaches the test
    database and Redis the tests use, and is stopped at the end of the session."""
    import uvicorn
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    from live.serve import uvicorn_config
    from shop.asgi import application

    port = free_port()
    # The static files from their folders, as pytest-django's live_server serves them to the browser tests.
    app = ASGIStaticFilesHandler(application)
    server = uvicorn.Server(uvicorn_config(bind=f"127.0.0.1:{port}", app=app))
    thread = threading.Thread(target=server.run, daemon=True)
    with django_db_blocker.unblock():
        thread.start()
        deadline = time.monotonic() + 15
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        yield LiveServer(port=port)
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def visitor() -> Visitor:
    return Visitor()
