"""App config of the catalog."""

from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "shop.catalog"
    label = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        # Connects the signals by which every process forgets its kept copies of the catalogue.
        from . import snapshot  # noqa: F401
