"""App config of accounts."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "shop.accounts"
    label = "accounts"
    verbose_name = "Accounts"
