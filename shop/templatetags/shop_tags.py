"""Storefront filters and tags: money, product cards, product attributes, country names, page numbers, dataLayer."""

import json
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.conf import settings
from django.core.paginator import Page
from django.utils.safestring import mark_safe

from shop.catalog.cards import card_html
from shop.catalog.navigation import navigation_categories, navigation_markup
from shop.orders.forms import COUNTRIES
from tracking.payloads import ga4_item

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


@register.simple_tag(takes_context=True)
def product_card(context, product, list_name="", slot="", algorithm="", position=None):
    return card_html(
        product,
        currency=context.get("currency", ""),
        list_name=list_name,
        slot=slot,
        algorithm=algorithm,
        position=position,
    )


@register.simple_tag(takes_context=True)
def department_menu(context):
    """The header's department menu, the page's own department marked (a listing's, or a product's)."""
    current = set()
    department = context.get("department")
    if getattr(department, "pk", None) is not None:
        current.add(department.pk)
    product = context.get("product")
    department_id = getattr(getattr(product, "category", None), "department_id", None)
    if department_id is not None:
        current.add(department_id)
    return navigation_markup(part="header", current=tuple(sorted(current)))


@register.simple_tag
def department_categories(department):
    return navigation_categories(department_pk=department.pk) if department is not None else ()


@register.simple_tag
def footer_menu():
    return navigation_markup(part="footer")


@register.simple_tag
def department_tiles():
    return navigation_markup(part="tiles")


# (form, field, id) -> a blank field's widget markup; the sort select alone rendered four templates.
_blank_widgets: dict[tuple[str, str, str], str] = {}


@register.simple_tag
def field_widget(field):
    """A form field's widget; a blank one without errors (most pages: no filter chosen) is rendered once
    per process, as it shows nothing of the request. With DEBUG on it is rendered every time."""
    if settings.DEBUG or field.errors or field.value() not in (None, "", False):
        return field.as_widget()
    key = (type(field.form).__name__, field.name, field.auto_id)
    markup = _blank_widgets.get(key)
    if markup is None:
        markup = _blank_widgets[key] = field.as_widget()
    return markup


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


def _ga4_item(product, index: int | None = None, quantity: int | None = None) -> dict:
    return ga4_item(
        item_id=product.pk,
        name=product.title,
        price=product.price,
        category=product.category.name,
        brand=product.brand.name if product.brand_id else None,
        index=index,
        quantity=quantity,
    )


# JSON inside a <script> must not be able to close the tag or open a comment.
_SCRIPT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026", 0x2028: "\\u2028", 0x2029: "\\u2029"}


@register.simple_tag(takes_context=True)
def datalayer_push(context, event: str, products=None, list_name: str = "", lines=None) -> str:
    """A GA4 ecommerce push (view_item, view_item_list, view_cart) for tag managers and our tracker.

    An inline script, so it carries the page's CSP nonce: the policy runs no other inline code.
    """
    if lines is not None:
        items = [_ga4_item(line.product, quantity=line.quantity) for line in lines]
    elif products is None:
        items = []
    elif hasattr(products, "pk"):
        items = [_ga4_item(products)]
    else:
        items = [_ga4_item(product, index=i) for i, product in enumerate(products, start=1)]
    # A list view carries no money (GA4's view_item_list has no currency or value, nor does the
    # registry's): only what the list is and what is in it, or the collector refuses it.
    ecommerce = {"items": items}
    if list_name:
        ecommerce["item_list_name"] = list_name
    if event != "view_item_list":
        ecommerce["currency"] = settings.SHOP_CURRENCY
        ecommerce["value"] = round(sum(item["price"] * item.get("quantity", 1) for item in items), 2)
    payload = json.dumps({"event": event, "ecommerce": ecommerce}).translate(_SCRIPT_ESCAPES)
    request = context.get("request")
    if request is None:
        return ""  # rendered for no page (a mail, a file): there is no dataLayer to push to
    nonce = request.csp_nonce
    return mark_safe(f'<script nonce="{nonce}">window.dataLayer.push({payload});</script>')  # noqa: S308 - escaped above


@register.filter
def stars(value) -> str:
    """4.4 -> "★★★★☆": whole stars, rounded half up."""
    try:
        filled = int(Decimal(str(value)).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
    except (InvalidOperation, ValueError, TypeError):
        return ""
    filled = max(0, min(5, filled))
    return "★" * filled + "☆" * (5 - filled)
