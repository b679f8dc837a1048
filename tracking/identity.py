"""First-party identity: consent, visitor and session cookies, and the request's tracking context."""

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from .validation import RANDOM_UUID

CONSENT_COOKIE = "ll_consent"
VISITOR_COOKIE = "ll_vid"
SESSION_COOKIE = "ll_sid"
GRANTED, DENIED = "granted", "denied"
VISITOR_MAX_AGE = 60 * 60 * 24 * 395  # a little over a year, the usual consent lifetime
CONSENT_MAX_AGE = 60 * 60 * 24 * 180


@dataclass
class TrackingContext:
    consent: str | None
    visitor_id: uuid.UUID | None
    session_id: uuid.UUID | None
    new_visitor: bool = False
    new_session: bool = False

    @property
    def granted(self) -> bool:
        return self.consent == GRANTED and self.visitor_id is not None


def _uuid(value: str | None) -> uuid.UUID | None:
    """An id this site minted (uuid4, in its 36 characters); anything else is as good as none,
    so a cookie forged from a computable id (an imported dataset's uuid5 visitors) names nobody."""
    if not value or not RANDOM_UUID.fullmatch(value):
        return None
    return uuid.UUID(value)


def context_from_request(request: HttpRequest) -> TrackingContext:
    """What the cookies say; with consent, missing ids are minted here (and set on the response)."""
    return context_from_cookies(request.COOKIES)


def context_from_cookies(cookies: Mapping[str, str]) -> TrackingContext:
    """The tracking context of a request's or a WebSocket handshake's cookies (see context_from_request)."""
    consent = cookies.get(CONSENT_COOKIE)
    if consent not in (GRANTED, DENIED):
        consent = None
    if consent != GRANTED:
        return TrackingContext(consent=consent, visitor_id=None, session_id=None)
    visitor = _uuid(cookies.get(VISITOR_COOKIE))
    session = _uuid(cookies.get(SESSION_COOKIE))
    return TrackingContext(
        consent=consent,
        visitor_id=visitor or uuid.uuid4(),
        session_id=session or uuid.uuid4(),
        new_visitor=visitor is None,
        new_session=session is None,
    )


def context_renew(context: TrackingContext) -> TrackingContext:
    """The same consent with a new visitor and a new session: what a browser gets on logout, so
    the next person at it does not carry on as the visitor the account was tied to."""
    if not context.granted:
        return context
    return TrackingContext(
        consent=context.consent,
        visitor_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
        new_visitor=True,
        new_session=True,
    )


def cookies_apply(
    response: HttpResponse, context: TrackingContext, *, secure: bool, carried: Collection[str] = ()
) -> None:
    """Keep the cookies in step with consent; the session cookie slides 30 minutes each time.

    Without consent, only the ids the request came with (`carried`: its cookies' names) are
    cleared. The answer to a request sent before consent was given (an image, a fragment) can
    arrive after the consent's own answer, and clearing ids it never had would wipe the ones
    just minted: the page's next request would mint others, and its live socket, opened in
    between, would be refused.
    """
    options = {"samesite": "Lax", "secure": secure, "httponly": True}
    if context.granted:
        response.set_cookie(VISITOR_COOKIE, str(context.visitor_id), max_age=VISITOR_MAX_AGE, **options)
        response.set_cookie(
            SESSION_COOKIE, str(context.session_id), max_age=settings.TRACKING_SESSION_MINUTES * 60, **options
        )
    else:
        for name in (VISITOR_COOKIE, SESSION_COOKIE):
            if name in carried:
                response.delete_cookie(name, samesite="Lax")


def cookie_headers(context: TrackingContext, *, secure: bool) -> list[tuple[bytes, bytes]]:
    """The Set-Cookie headers cookies_apply puts on a response, for a WebSocket handshake's answer
    (browsers keep them): opening the live socket slides the session as a page load does."""
    response = HttpResponse()
    cookies_apply(response, context, secure=secure)
    return [(b"set-cookie", morsel.OutputString().encode("latin-1")) for morsel in response.cookies.values()]


def consent_set(response: HttpResponse, choice: str, *, secure: bool) -> None:
    response.set_cookie(CONSENT_COOKIE, choice, max_age=CONSENT_MAX_AGE, samesite="Lax", secure=secure)
