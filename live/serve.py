"""uvicorn serving the live channel (shop.asgi) with the socket limits of the settings: python -m live.serve."""

import os

import django
import uvicorn
from django.conf import settings


def uvicorn_config(*, bind: str | None = None, app="shop.asgi:application", **overrides) -> uvicorn.Config:
    """One definition of the server, for the deployment and for the tests that start it."""
    host, _, port = (bind or settings.LIVE_BIND).rpartition(":")
    options = {
        "host": host,
        "port": int(port),
        # The websockets implementation waits for a slow reader to drain before a send returns,
        # which the consumer's send timeout turns into a close (LIVE_SEND_TIMEOUT_SECONDS);
        # uvicorn's newer sans-I/O one buffers every send without bound, so it is not used.
        "ws": "websockets",
        # The consumer answers a frame past TRACKING_MAX_BODY_BYTES with its reason (1009,
        # frame_too_large); one past twice that is cut by the protocol before it is read whole.
        "ws_max_size": 2 * settings.TRACKING_MAX_BODY_BYTES,
        "ws_max_queue": settings.LIVE_WS_MAX_QUEUE,
        # Dead peers (a laptop shut, a network gone) are found within 40 s.
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
        # Compression would keep two zlib windows per socket; tracker frames are a few kB.
        "ws_per_message_deflate": False,
        # The client's address is decided by shop.client_address from TRUSTED_PROXIES, as for gunicorn.
        "proxy_headers": False,
        "lifespan": "off",
        "server_header": False,
        "access_log": False,
        # Every socket's open and close is logged at info: noise, and CPU, at thousands of sockets.
        "log_level": "warning",
        "backlog": 4096,
        "timeout_graceful_shutdown": 10,
        **overrides,
    }
    return uvicorn.Config(app, **options)


def main() -> None:
    # As shop/asgi.py: the image and make serve run production; make demo names its own.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings.production")
    django.setup()
    uvicorn.Server(uvicorn_config()).run()


if __name__ == "__main__":
    main()
