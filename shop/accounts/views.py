"""Register, log in and log out."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from shop.ratelimit import address_budget_spend
from tracking.api import track
from tracking.identity import CONSENT_COOKIE, TrackingContext

from .forms import EraseForm, SignUpForm
from .lockout import try_again_message
from .privacy import personal_data_erase, personal_data_export
from .selectors import data_subject


@require_http_methods(["GET", "POST"])
def register_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    next_url = request.GET.get("next", "")
    if request.method == "POST":
        # Spent before the form is validated: its answers say which emails have accounts.
        wait = address_budget_spend(
            request=request, scope="signup", limit=settings.ACCOUNTS_SIGNUP_ATTEMPTS_PER_IP, window_seconds=3600
        )
        if wait:
            refused = try_again_message(reason="Too many sign-ups from your network", seconds=wait)
            context = {"form": SignUpForm(), "refused": refused, "next": next_url}
            return render(request, "accounts/register.html", context, status=429)
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        track(request, "sign_up", props={"method": "password"})
        messages.success(request, f"Welcome, {user.username}. Your account is ready.")
        target = request.POST.get("next", "")
        if url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return redirect(target)
        return redirect("home")
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/register.html", {"form": form, "next": next_url}, status=status)


@require_GET
def privacy_view(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/privacy.html", _privacy_context(request, EraseForm(request=request)))


def _privacy_context(request: HttpRequest, erase_form: EraseForm) -> dict:
    return {
        "consent": request.tracking.consent,
        "retention_days": settings.TRACKING_RETENTION_DAYS,
        "erase_form": erase_form,
    }


@require_POST
def privacy_download_view(request: HttpRequest) -> HttpResponse:
    subject = data_subject(request=request)
    if subject.is_empty:
        messages.info(request, "We hold nothing about this browser: tracking is off and you are not logged in.")
        return redirect("accounts:privacy")
    data = personal_data_export(subject=subject)
    response = JsonResponse(data, json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = 'attachment; filename="my-data.json"'
    return response


@require_POST
def privacy_erase_view(request: HttpRequest) -> HttpResponse:
    form = EraseForm(request.POST, request=request)
    if not form.is_valid():
        # A TemplateResponse, so a lockout (axes' middleware) re-renders this page with its message.
        return TemplateResponse(request, "accounts/privacy.html", _privacy_context(request, form), status=400)
    subject = data_subject(request=request)
    result = personal_data_erase(subject=subject)
    if subject.user is not None:
        logout(request)
    response = redirect("accounts:privacy")
    # Forget this browser too: with no consent cookie the banner asks again.
    response.delete_cookie(CONSENT_COOKIE, samesite="Lax")
    request.tracking = TrackingContext(consent=None, visitor_id=None, session_id=None)
    messages.success(
        request,
        f"Erased {result['events']} recorded events and your profile"
        + (
            f"; {result['orders_anonymised']} orders kept for our accounts, without your name or address,"
            " and you are logged out everywhere."
            if subject.user is not None
            else "."
        ),
    )
    return response
