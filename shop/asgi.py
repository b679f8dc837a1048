"""ASGI entry point: the live channel's WebSocket (uvicorn beside gunicorn), and every page as well."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings.production")

# Django first: the consumers import models, which need the app registry ready.
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from live.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        # The session and user, from the handshake's cookies; the consumer checks origin and consent.
        "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
    }
)
