"""Values every storefront page needs: shop name, navigation, cart count."""

from django.conf import settings
from django.http import HttpRequest

from shop.catalog.navigation import navigation
from shop.orders.selectors import cart_for_session, cart_item_count


def storefront(request: HttpRequest) -> dict:
    if request.path.startswith("/admin/"):
        return {}
    cart = cart_for_session(session=request.session, user=request.user) if hasattr(request, "session") else None
    return {
        "shop_name": settings.SHOP_NAME,
        "currency": settings.SHOP_CURRENCY,
        "nav_departments": navigation(),
        "cart_count": cart_item_count(cart=cart),
        "cart_max_quantity": settings.CART_MAX_QUANTITY,
        "tracking_consent": getattr(getattr(request, "tracking", None), "consent", None),
    }
