"""The department menu every storefront page shows (and the home page's tiles), built once and kept per process.

Building it took two queries and a URL reversal per link on every page. A change to a
department or a category saved in this process is seen at once (the signals below); one saved
in another process shows here within NAV_SECONDS.
"""

import threading
import time
from typing import NamedTuple

from django.db.models.signals import post_delete, post_save

from .models import Category, Department

NAV_SECONDS = 30.0


class NavLink(NamedTuple):
    pk: int
    name: str
    url: str
    description: str = ""
    children: tuple["NavLink", ...] = ()


_held: dict[str, tuple[float, tuple[NavLink, ...]]] = {}
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
    return menu


def navigation_forget(**_) -> None:
    with _lock:
        _held.clear()


for model in (Department, Category):
    post_save.connect(navigation_forget, sender=model, dispatch_uid=f"navigation-saved-{model.__name__}")
    post_delete.connect(navigation_forget, sender=model, dispatch_uid=f"navigation-deleted-{model.__name__}")
