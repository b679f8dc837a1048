"""The collector endpoint, the consent choice, and the session slide of a page on the live socket."""

import logging
import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from shop.client_address import address_bucket

from .collector import BatchRefused, batch_collect, batch_parse, origin_allowed
from .identity import CONSENT_COOKIE, DENIED, GRANTED, consent_set, context_from_request

logger = logging.getLogger(__name__)

# Crawlers that announce themselves; headless browsers used by real shoppers' tools are not listed.
KNOWN_BOTS = re.compile(
    r"bot\b|crawler|spider|slurp|bingpreview|facebookexternalhit|python-requests|curl/|wget/|httpclient|"
    r"ahrefs|semrush|mj12|yandex|baiduspider|duckduckgo|applebot|petalbot|bytespider|gptbot",
    re.IGNORECASE,
)


def _error(status: int, reason: str, detail: str, **extra) -> JsonResponse:
    return JsonResponse({"error": reason, "detail": detail, **extra}, status=status)


def _origin_allowed(request: HttpRequest) -> bool:
    return origin_allowed(request.headers.get("Origin") or request.headers.get("Referer"))


@csrf_exempt  # beacons carry no CSRF token; the Origin check below stands in for it
@require_POST
def collect_view(request: HttpRequest) -> JsonResponse:
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        length = 0
    if length > settings.TRACKING_MAX_BODY_BYTES:
        return _error(413, "body_too_large", f"at most {settings.TRACKING_MAX_BODY_BYTES} bytes per request")
    if not _origin_allowed(request):
        return _error(403, "origin_not_allowed", "events are accepted from this shop's own pages only")
    if KNOWN_BOTS.search(request.headers.get("User-Agent", "")):
        return JsonResponse({"accepted": 0, "duplicates": 0, "rejected": [], "ignored": "known_bot"}, status=202)
    context = request.tracking
    if not context.granted:
        return _error(403, "consent_required", "no tracking without the visitor's consent")
    user = request.user if request.user.is_authenticated else None
    try:
        result = batch_collect(
            batch=batch_parse(request.body),
            visitor_id=context.visitor_id,
            user_id=user.pk if user else None,
            session_id=context.session_id,
            address=address_bucket(request),
        )
    except BatchRefused as refused:
        response = JsonResponse(refused.as_json(), status=refused.status)
        if refused.retry_after is not None:
            response["Retry-After"] = str(refused.retry_after)
        return response
    status = 400 if result.rejected and not (result.accepted or result.duplicates) else 202
    return JsonResponse(result.as_json(), status=status)


@require_POST
def consent_view(request: HttpRequest) -> HttpResponse:
    """Accept or reject tracking; works as a plain form post and from the banner's script."""
    choice = request.POST.get("choice")
    if choice not in (GRANTED, DENIED):
        return _error(400, "bad_choice", 'choice must be "granted" or "denied"')
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    if request.headers.get("Accept", "").startswith("application/json"):
        response: HttpResponse = JsonResponse({"consent": choice})
    else:
        response = HttpResponseRedirect(target)
    consent_set(response, choice, secure=request.is_secure())
    # The middleware sets or clears the visitor cookies on this very response.
    request.COOKIES = {**request.COOKIES, CONSENT_COOKIE: choice}
    request.tracking = context_from_request(request)
    return response


@require_GET
def session_view(request: HttpRequest) -> HttpResponse:
    """Nothing but the tracking middleware's cookies: a page whose events go over the live socket
    comes here when the socket's ack says so, to slide its session cookie as a collector post
    would (a socket cannot set a cookie once open)."""
    response = HttpResponse(status=204)
    response["Cache-Control"] = "no-store"
    return response
