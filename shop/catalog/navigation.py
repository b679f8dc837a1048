"""The department menu every storefront page shows (and the home page's tiles), built once and kept per process.

Building it took two queries and a URL reversal per link on every page; rendering the header's
menu and the footer's links from it took another 2-3 ms of template loops, and the home page's
tiles 1 ms more, so their markup is kept too, per current department and language, and goes with
the menu it was rendered from.
Neither holds anything about a visitor. A change to a
department or a category saved in this process is seen at once (the signals below); one saved
in another process shows here within NAV_SECONDS.
"""

import threading
import time
from typing import NamedTuple

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from .models import Category, Department

NAV_SECONDS = 30.0


class NavLink(NamedTuple):
    pk: int
    name: str
    url: str
    description: str = ""
    children: tuple["NavLink", ...] = ()


MENU_TEMPLATES = {
    "header": "partials/department_menu.html",
    "footer": "partials/footer_menu.html",
    "tiles": "partials/department_tiles.html",
}

_held: dict[str, tuple[float, tuple[NavLink, ...]]] = {}
# (menu it was rendered from, template, current departments, language) -> markup; cleared with _held.
_markup: dict[tuple, SafeString] = {}
_lock = threading.Lock()


def navigation() -> tuple[NavLink, ...]:
    held = _held.get("menu")
    if held is not None and time.monotonic() - held[0] < NAV_SECONDS:
        return held[1]
    menu = tuple(
        NavLink(
            pk=department.pk,
            name=department.name,
            url=department.get_absolute_url(),
            description=department.description,
            children=tuple(
                NavLink(pk=category.pk, name=category.name, url=category.get_absolute_url())
                for category in department.categories.all()
            ),
        )
        for department in Department.objects.prefetch_related("categories")
    )
    with _lock:
        _held["menu"] = (time.monotonic(), menu)
        _markup.clear()  # rendered from the menu this one replaces
    return menu


def navigation_categories(*, department_pk: int) -> tuple[NavLink, ...]:
    """A department's categories as the menu has them: a listing's chips without a query of their own."""
    return next((link.children for link in navigation() if link.pk == department_pk), ())


def navigation_markup(*, part: str, current: tuple[int, ...] = ()) -> SafeString:
    """The header's ("header") or the footer's ("footer") menu markup, or the home page's
    department tiles ("tiles": 1 ms of template loops a page), current naming the
    departments marked as the page's own; rendered once per menu, current and language. With DEBUG
    on it is rendered every time, so an edited template shows (as cards and filter widgets do)."""
    menu = navigation()
    key = (id(menu), part, current, get_language())
    markup = _markup.get(key)
    if markup is None:
        context = {"nav_departments": menu, "current": current}
        markup = mark_safe(render_to_string(MENU_TEMPLATES[part], context))  # noqa: S308 (rendered by the template engine)
        if settings.DEBUG:
            return markup
        with _lock:
            if _held.get("menu", (0, None))[1] is not menu:
                return markup  # the menu was rebuilt meanwhile: do not keep markup of the old one
            _markup[key] = markup
    return markup


def navigation_forget(**_) -> None:
    with _lock:
        _held.clear()
        _markup.clear()


for model in (Department, Category):
    post_save.connect(navigation_forget, sender=model, dispatch_uid=f"navigation-saved-{model.__name__}")
    post_delete.connect(navigation_forget, sender=model, dispatch_uid=f"navigation-deleted-{model.__name__}")
