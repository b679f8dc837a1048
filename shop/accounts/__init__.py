"""Shopper accounts: register, log in, log out, on django.contrib.auth."""
