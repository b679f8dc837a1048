"""URLs of cart, checkout and orders."""

from django.urls import path

from . import views

app_name = "orders"

urlpatterns = [
    path("cart/", views.cart_view, name="cart"),
    path("cart/fragments/", views.cart_fragments_view, name="cart_fragments"),
    path("cart/add/", views.cart_add_view, name="cart_add"),
    path("cart/update/", views.cart_update_view, name="cart_update"),
    path("cart/remove/", views.cart_remove_view, name="cart_remove"),
    path("cart/coupon/", views.cart_coupon_view, name="cart_coupon"),
    path("checkout/", views.checkout_view, name="checkout"),
    path("orders/", views.order_history_view, name="history"),
    # Before the detail's pattern, which would take "find" for an order number.
    path("orders/find/", views.order_lookup_view, name="find"),
    path("orders/<str:number>/", views.order_detail_view, name="detail"),
]
