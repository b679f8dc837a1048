"""Keeps AccountSession in step with logins and logouts."""

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from .models import AccountSession


@receiver(user_logged_in, dispatch_uid="accounts_session_recorded_on_login")
def record_session_on_login(sender, request, user, **kwargs) -> None:
    # login() has already cycled the key, so this is the key the browser will hold.
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        AccountSession.objects.update_or_create(session_key=session.session_key, defaults={"user": user})


@receiver(user_logged_out, dispatch_uid="accounts_session_dropped_on_logout")
def drop_session_on_logout(sender, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        AccountSession.objects.filter(session_key=session.session_key).delete()
