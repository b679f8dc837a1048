"""Storefront filters and tags: money, product attributes, country names, page numbers."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.conf import settings
from django.core.paginator import Page

from shop.orders.forms import COUNTRIES

register = template.Library()

CURRENCY_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}
COUNTRY_NAMES = dict(COUNTRIES)
CENT = Decimal("0.01")


@register.filter
def money(value, currency: str = "") -> str:
    """12.5 -> "£12.50"; 1234 -> "£1,234.00". Unknown currencies fall back to their code."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return ""
    code = (currency or settings.SHOP_CURRENCY).upper()
    symbol = CURRENCY_SYMBOLS.get(code)
    digits = f"{abs(amount):,.2f}"
    sign = "−" if amount < 0 else ""
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{digits} {code}"


@register.filter
def attribute_rows(attributes) -> list[tuple[str, str]]:
    """A product's attributes as (label, value) rows: {"fit_type": "slim"} -> [("Fit type", "slim")].

    Iterating in Python rather than with ``.items`` in the template, because a key named
    "items" would shadow the dict method there.
    """
    if not isinstance(attributes, dict):
        return []
    rows = []
    for key, value in attributes.items():
        if value in (None, "", [], {}):
            continue
        label = str(key).replace("_", " ").strip().capitalize()
        shown = ", ".join(str(item) for item in value) if isinstance(value, list | tuple) else str(value)
        rows.append((label, shown))
    return rows


@register.filter
def country_name(code: str) -> str:
    """An ISO country code as its name when the checkout offers it, else the code itself."""
    return COUNTRY_NAMES.get(str(code).upper(), code)


@register.simple_tag
def page_numbers(page_obj: Page, on_each_side: int = 2, on_ends: int = 1) -> list:
    """Page numbers around the current page, with the paginator's ellipsis for the gaps."""
    return list(page_obj.paginator.get_elided_page_range(page_obj.number, on_each_side=on_each_side, on_ends=on_ends))
