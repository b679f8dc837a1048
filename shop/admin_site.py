"""The shop's admin site: Django's, with the dashboard on its index page (shop.admin_config.ShopAdminConfig)."""

from django.contrib import admin
from django.utils import timezone

from .charts import CHART_MEDIA
from .dashboard import dashboard


class ShopAdminSite(admin.AdminSite):
    index_template = "admin/dashboard.html"

    def index(self, request, extra_context=None):
        # The index is behind admin_view, as every admin page: active staff only.
        context = {**dashboard(now=timezone.now()), "media": CHART_MEDIA, **(extra_context or {})}
        return super().index(request, context)
