"""The live channel's fixtures (tests/live_server.py)."""

from tests.live_server import ORIGIN, live_asgi, visitor  # noqa: F401
