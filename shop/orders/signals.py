"""Merges the anonymous cart into the user's cart when a shopper logs in."""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from .models import Cart
from .selectors import SESSION_CART_KEY
from .services import cart_merge


@receiver(user_logged_in, dispatch_uid="orders_cart_merge_on_login")
def merge_cart_on_login(sender, request, user, **kwargs) -> None:
    if request is None:
        return
    cart_id = request.session.get(SESSION_CART_KEY)
    # login() cycles the session key but keeps its data, so the anonymous cart id survives.
    anonymous = Cart.objects.filter(pk=cart_id, user__isnull=True).first() if isinstance(cart_id, int) else None
    if anonymous is not None:
        cart_merge(anonymous_cart=anonymous, user=user)
    request.session.pop(SESSION_CART_KEY, None)
