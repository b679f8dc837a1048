"""Joins a visitor's anonymous history to the user on login or sign-up; starts a new visitor on logout."""

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from .api import track
from .hooks import hooks_visitor_signed_out
from .identity import context_renew
from .services import identity_link


@receiver(user_logged_in, dispatch_uid="tracking_identity_link_on_login")
def link_visitor_on_login(sender, request, user, **kwargs) -> None:
    context = getattr(request, "tracking", None) if request is not None else None
    if context is None or not context.granted:
        return
    identity_link(visitor_id=context.visitor_id, user_id=user.pk)
    track(request, "login", props={"method": "password"})


@receiver(user_logged_out, dispatch_uid="tracking_identity_renew_on_logout")
def renew_visitor_on_logout(sender, request, user, **kwargs) -> None:
    """The visitor id stays tied to the account (VisitorLink): whoever uses the browser next
    starts afresh, and the middleware sets the new cookies on this response."""
    context = getattr(request, "tracking", None) if request is not None else None
    if context is not None:
        if context.granted:
            hooks_visitor_signed_out(visitor_id=context.visitor_id)
        request.tracking = context_renew(context)
