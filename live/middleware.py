"""Puts the page's own WebSocket origin in its Content-Security-Policy's connect-src."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest


def socket_origin(request: HttpRequest) -> str:
    """LIVE_SOCKET_URL's origin; else ws://host or wss://host, as the page was served over http or https."""
    if settings.LIVE_SOCKET_URL:
        parts = urlsplit(settings.LIVE_SOCKET_URL)
        return f"{parts.scheme}://{parts.netloc}"
    return f"{'wss' if request.is_secure() else 'ws'}://{request.get_host()}"


class SocketOriginMiddleware:
    """Names the one socket origin a page may open, rather than a scheme source (ws:, wss:)
    that would let an injected script reach any host; browsers before CSP level 3 do not
    count ws: to the page's host as 'self'. Runs inside django-csp's middleware, which reads
    the update when it writes the header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        response = self.get_response(request)
        try:
            origin = socket_origin(request)
        except DisallowedHost:  # the 400 for that host carries no page to connect from
            return response
        update = getattr(response, "_csp_update", None) or {}
        update["connect-src"] = [*update.get("connect-src", []), origin]
        response._csp_update = update
        return response
