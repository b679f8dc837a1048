"""Register, reset a forgotten password, and the privacy page; log in and out are Django's own views."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from shop.ratelimit import address_budget_spend, subject_budget_spend, try_again_message
from tracking.api import track
from tracking.identity import CONSENT_COOKIE, TrackingContext

from .forms import EraseForm, ResetRequestForm, SignUpForm
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


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset request, limited per address and per e-mail like the login.

    Whatever is typed, an account's e-mail or not, the answer is the same page ("if an account
    has this e-mail, a link is on its way") and takes as long; both limits count every e-mail, so
    a refusal tells nothing either.
    """

    template_name = "accounts/password_reset_form.html"
    form_class = ResetRequestForm
    success_url = reverse_lazy("accounts:password_reset_done")

    def post(self, request, *args, **kwargs):
        # Spent before the form is validated, as the sign-up does: every try counts.
        wait = address_budget_spend(
            request=request,
            scope="password_reset",
            limit=settings.ACCOUNTS_PASSWORD_RESETS_PER_IP,
            window_seconds=3600,
        )
        if wait:
            return self._refused(reason="Too many reset requests from your network", seconds=wait)
        form = self.get_form()
        if not form.is_valid():
            return self.form_invalid(form)
        wait = subject_budget_spend(
            subject=form.cleaned_data["email"].lower(),
            scope="password_reset_mail",
            limit=settings.ACCOUNTS_PASSWORD_RESETS_PER_EMAIL,
            window_seconds=3600,
        )
        if wait:
            return self._refused(reason="Several reset links went to this e-mail address already", seconds=wait)
        return self.form_valid(form)

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)

    def _refused(self, *, reason: str, seconds: int) -> HttpResponse:
        context = self.get_context_data(
            form=self.form_class(), refused=try_again_message(reason=reason, seconds=seconds)
        )
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(seconds)
        return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)


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
