"""The department menu's markup kept per process: the page's own department marked, no visitor's data shared."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from shop.catalog import navigation
from tests.factories.catalog import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

CURRENT = re.compile(r'class="dept-nav__link is-current" href="([^"]+)"')


def _page(client, url):
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_the_menu_marks_the_pages_own_department_wherever_it_was_rendered_first(client):
    mugs, shirts = CategoryFactory(name="Mugs"), CategoryFactory(name="Shirts")
    shirt = ProductFactory(category=shirts)
    assert CURRENT.findall(_page(client, reverse("home"))) == []
    assert CURRENT.findall(_page(client, mugs.get_absolute_url())) == [mugs.department.get_absolute_url()]
    assert CURRENT.findall(_page(client, shirt.get_absolute_url())) == [shirts.department.get_absolute_url()]
    assert CURRENT.findall(_page(client, reverse("home"))) == []
    assert CURRENT.findall(_page(client, mugs.get_absolute_url())) == [mugs.department.get_absolute_url()]


def test_two_visitors_share_the_menu_but_each_sees_their_own_cart_and_consent():
    category = CategoryFactory(name="Mugs")
    mug = ProductFactory(category=category, stock=10)
    first, second = Client(), Client()
    first.post(reverse("orders:cart_add"), {"product_id": mug.pk, "quantity": 3})
    second.cookies["ll_consent"] = "granted"
    pages = [_page(visitor, mug.get_absolute_url()) for visitor in (first, second)]
    menus = [page[page.index('<nav class="dept-nav"') : page.index("</header>")] for page in pages]
    assert menus[0] == menus[1] and category.name in menus[0]
    counts = [re.search(r'cart-link__count">(\d+)<', page).group(1) for page in pages]
    assert counts == ["3", "0"]
    assert 'id="consent-banner"' in pages[0] and 'id="consent-banner"' not in pages[1]
    tokens = [re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1) for page in pages]
    assert tokens[0] != tokens[1]


def test_the_menus_markup_goes_with_the_menu_it_was_rendered_from(client):
    category = CategoryFactory(name="Mugs")
    _page(client, reverse("home"))
    assert navigation._markup
    category.name = "Beakers"
    category.save()
    assert not navigation._markup
    page = _page(client, reverse("home"))
    assert "Beakers" in page[page.index('<nav class="dept-nav"') : page.index("</header>")]


def test_with_debug_on_the_menu_is_rendered_every_time_so_an_edited_template_shows(settings, monkeypatch):
    CategoryFactory(name="Mugs")
    renders = []
    real = navigation.render_to_string
    monkeypatch.setattr(navigation, "render_to_string", lambda *a, **k: renders.append(a[0]) or real(*a, **k))
    settings.DEBUG = True
    navigation.navigation_markup(part="header")
    navigation.navigation_markup(part="header")
    settings.DEBUG = False
    navigation.navigation_markup(part="header")
    navigation.navigation_markup(part="header")
    assert renders == [navigation.MENU_TEMPLATES["header"]] * 3
