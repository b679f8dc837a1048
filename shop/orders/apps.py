"""App config of orders; connects the cart merge to login."""

from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "shop.orders"
    label = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        from . import signals  # noqa: F401
