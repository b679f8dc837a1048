"""App config of the storefront shell (home page, layout, error pages)."""

from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = "Shop"
