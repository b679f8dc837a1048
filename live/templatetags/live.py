"""Where a page's tracker opens its socket."""

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def live_socket_url() -> str:
    """LIVE_SOCKET_URL, or empty for /ws/live on the page's own host (the tracker's default)."""
    return settings.LIVE_SOCKET_URL
