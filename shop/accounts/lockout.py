"""Login throttling on django-axes: a limit per account at an address, one per address, and the lockout page."""

from datetime import datetime

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, QuerySet, Sum
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from shop.ratelimit import try_again_message


class LoginAttemptHandler(AxesDatabaseHandler):
    """Axes' database handler with a limit of its own for each lockout rule (AXES_HANDLER).

    One account locks at one address after AXES_FAILURE_LIMIT failures within the cool-off; one
    address, whatever usernames it tries, after LOGIN_FAILURE_LIMIT_PER_ADDRESS. Axes compares
    the failures of every rule with one limit, which would lock a shared address as soon as an
    account. An account is never locked for every address, so no one can lock a shopper out of
    their own home; a guesser gets AXES_FAILURE_LIMIT tries per address per cool-off.
    """

    def _rules(self, request: HttpRequest, credentials: dict | None) -> list[tuple[QuerySet, int]]:
        recent = AccessAttempt.objects.filter(
            ip_address=request.axes_ip_address, attempt_time__gte=get_cool_off_threshold(request)
        )
        username = get_client_username(request, credentials)
        return [
            (recent.filter(username=username), settings.AXES_FAILURE_LIMIT),
            (recent, settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS),
        ]

    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        """The failures of the rule nearest its limit, scaled to AXES_FAILURE_LIMIT: the one limit
        axes compares this with, so each rule locks exactly at its own."""
        nearest = 0
        for attempts, limit in self._rules(request, credentials):
            failures = attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            nearest = max(nearest, failures * settings.AXES_FAILURE_LIMIT // limit)
        return nearest

    def lockout_ends(self, request: HttpRequest, credentials: dict | None = None) -> datetime | None:
        """When the lock on this login lifts: a cool-off after the last failure of each rule at its
        limit (a failure of the address's rule may age out sooner; this never promises too early)."""
        ends = None
        for attempts, limit in self._rules(request, credentials):
            seen = attempts.aggregate(total=Sum("failures_since_start"), last=Max("attempt_time"))
            if (seen["total"] or 0) >= limit:
                lifts = seen["last"] + get_cool_off(request)
                ends = lifts if ends is None else max(ends, lifts)
        return ends

    def reset_user_attempts(self, request: HttpRequest, credentials: dict | None = None) -> int:
        """A login clears its account's failures at its address and no others: clearing the
        address's, as axes would, lets a guesser with an account of their own log in between
        guesses and wipe the count."""
        username = get_client_username(request, credentials)
        count, _ = AccessAttempt.objects.filter(username=username, ip_address=request.axes_ip_address).delete()
        return count


def lockout_response(request: HttpRequest, response: HttpResponse, credentials: dict | None) -> HttpResponse:
    """The page the locked attempt came from (the storefront or admin login, the privacy page's
    erase form), re-rendered as a 429 with why and for how long in place of the form's errors
    (AXES_LOCKOUT_CALLABLE)."""
    ends = LoginAttemptHandler().lockout_ends(request, credentials)
    seconds = (ends - timezone.now()).total_seconds() if ends else get_cool_off(request).total_seconds()
    message = try_again_message(reason="Too many failed attempts", seconds=seconds)
    context = getattr(response, "context_data", None) or {}
    form = next((value for value in context.values() if isinstance(value, BaseForm)), None)
    if form is None:
        return HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    form.errors.clear()
    form.add_error(None, message)
    return TemplateResponse(request, response.template_name, context, status=429).render()
