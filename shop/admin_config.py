"""The admin's app config with the shop's site, apart from shop.apps so each module names one default config."""

from django.contrib.admin.apps import AdminConfig


class ShopAdminConfig(AdminConfig):
    """Django's admin, with the shop's site (shop.admin_site): its index is the dashboard."""

    default_site = "shop.admin_site.ShopAdminSite"
