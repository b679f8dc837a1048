"""Joins a visitor's anonymous history to the user on login or sign-up."""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from .api import track
from .services import identity_link


@receiver(user_logged_in, dispatch_uid="tracking_identity_link_on_login")
def link_visitor_on_login(sender, request, user, **kwargs) -> None:
    context = getattr(request, "tracking", None) if request is not None else None
    if context is None or not context.granted:
        return
    identity_link(visitor_id=context.visitor_id, user_id=user.pk)
    track(request, "login", props={"method": "password"})
