"""Register, log in and log out."""

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from tracking.api import track

from .forms import SignUpForm


@require_http_methods(["GET", "POST"])
def register_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
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
    return render(request, "accounts/register.html", {"form": form, "next": request.GET.get("next", "")}, status=status)
