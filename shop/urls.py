"""Root URLs: storefront, accounts, admin, health; the server error handler."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

from . import views

admin.site.site_header = f"{settings.SHOP_NAME} administration"
admin.site.site_title = settings.SHOP_NAME

urlpatterns = [
    path("", views.home_view, name="home"),
    path("healthz", views.health_view, name="health"),
    # The collector takes most of the requests: resolve it before the storefront's patterns.
    path("t/", include("tracking.urls")),
    path("", include("shop.catalog.urls")),
    path("", include("shop.orders.urls")),
    path("account/", include("shop.accounts.urls")),
    path("admin/", admin.site.urls),
    *static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT),
]

handler500 = "shop.views.server_error_view"
