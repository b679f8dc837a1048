"""App config of the catalog."""

from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "shop.catalog"
    label = "catalog"
    verbose_name = "Catalog"
