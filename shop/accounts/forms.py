"""Sign-up with a required email, the password reset request, and the erase confirmation of the privacy page."""

from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import PasswordResetForm, UserCreationForm
from django.contrib.auth.models import User
from django.contrib.sites.shortcuts import get_current_site

from .services import password_reset_request


class SignUpForm(UserCreationForm):
    email = forms.EmailField(help_text="For order confirmations.")
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email", "first_name", "last_name")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email already exists; log in instead.")
        return email


class ResetRequestForm(PasswordResetForm):
    """Django's reset request, with the mail handed to a worker (services.password_reset_request)."""

    email = forms.EmailField(label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))

    def save(self, *, request, use_https: bool = False, domain_override: str | None = None, **_templates) -> None:
        # Django's view passes its template names too; the worker's service names its own.
        domain = domain_override or get_current_site(request).domain
        password_reset_request(email=self.cleaned_data["email"], domain=domain, use_https=use_https)


class EraseForm(forms.Form):
    """The erase confirmation; an account must also give its password, so a session left open
    on a shared computer cannot close the account. The password is checked through the
    authentication backends, so wrong ones count towards the login lockout like any other."""

    confirm = forms.BooleanField(
        label="I understand; erase my data",
        error_messages={"required": "Tick the box to confirm that you want everything erased."},
    )
    password = forms.CharField(label="Your password", widget=forms.PasswordInput, strip=False)

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        user = request.user
        self.user = user if user is not None and user.is_authenticated else None
        if self.user is None:
            del self.fields["password"]
        else:
            self.fields["password"].error_messages["required"] = "Enter your password to erase your account."

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        checked = authenticate(self.request, username=self.user.get_username(), password=password)
        if checked is None or checked.pk != self.user.pk:
            raise forms.ValidationError("That password is not right; nothing was erased.")
        return password
