"""The collector endpoint and the consent choice."""

import json
import logging
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.http.request import validate_host
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from shop.client_address import address_bucket

from . import ratelimit
from .identity import CONSENT_COOKIE, DENIED, GRANTED, consent_set, context_from_request
from .registry import Source
from .services import MAX_BATCH, event_ingest

logger = logging.getLogger(__name__)

# Crawlers that announce themselves; headless browsers used by real shoppers' tools are not listed.
KNOWN_BOTS = re.compile(
    r"bot\b|crawler|spider|slurp|bingpreview|facebookexternalhit|python-requests|curl/|wget/|httpclient|"
    r"ahrefs|semrush|mj12|yandex|baiduspider|duckduckgo|applebot|petalbot|bytespider|gptbot",
    re.IGNORECASE,
)

REFUSALS = {
    ratelimit.Refusal.NEW_VISITOR: (
        "too_many_new_visitors",
        "too many new visitors from this address; visitors already seen are still served",
    ),
    ratelimit.Refusal.VISITOR: ("rate_limited", "too many events from this visitor; slow down"),
    ratelimit.Refusal.ADDRESS: ("rate_limited", "too many events from this address; slow down"),
}


def _error(status: int, reason: str, detail: str, **extra) -> JsonResponse:
    return JsonResponse({"error": reason, "detail": detail, **extra}, status=status)


def _origin_allowed(request: HttpRequest) -> bool:
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin:
        return False
    host = urlsplit(origin).hostname
    return bool(host) and validate_host(host, [*settings.ALLOWED_HOSTS, *settings.TRACKING_ALLOWED_ORIGINS])


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
    body = request.body
    if len(body) > settings.TRACKING_MAX_BODY_BYTES:
        return _error(413, "body_too_large", f"at most {settings.TRACKING_MAX_BODY_BYTES} bytes per request")
    try:
        batch = json.loads(body)
    except (ValueError, RecursionError):
        return _error(400, "bad_json", "the body is not valid JSON")
    if not isinstance(batch, dict) or not isinstance(batch.get("events"), list):
        return _error(400, "bad_batch", 'the body must be an object with an "events" list')
    events = batch["events"]
    if not events:
        return _error(400, "empty_batch", "a batch needs at least one event")
    if len(events) > MAX_BATCH:
        return _error(413, "batch_too_long", f"at most {MAX_BATCH} events per batch")
    refusal, retry_after = ratelimit.check(
        visitor=str(context.visitor_id), address=address_bucket(request), cost=len(events)
    )
    if refusal:
        response = _error(429, *REFUSALS[refusal], retry_after=retry_after)
        response["Retry-After"] = str(retry_after)
        return response
    user = request.user if request.user.is_authenticated else None
    try:
        result = event_ingest(
            events=events,
            visitor_id=context.visitor_id,
            user_id=user.pk if user else None,
            session_id=context.session_id,
            source=Source.WEB,
            sent_at=batch.get("sent_at"),
        )
    except DatabaseError:
        logger.exception("collector could not store a batch")
        response = _error(503, "store_unavailable", "events were not stored; send them again", retry_after=2)
        response["Retry-After"] = "2"
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
