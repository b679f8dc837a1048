"""A shopper registers, browses, searches, fills a cart, checks out and finds the order."""

from decimal import Decimal

import pytest

from shop.orders.models import Order
from tests.factories.catalog import BrandFactory, CategoryFactory, DepartmentFactory, ProductFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def catalog():
    kitchen = DepartmentFactory(name="Home & Kitchen", slug="home-kitchen")
    mugs = CategoryFactory(department=kitchen, name="Mugs", slug="mugs")
    brand = BrandFactory(name="Hearth & Co", slug="hearth-co")
    ProductFactory.create_batch(5, category=mugs, brand=brand)
    return ProductFactory(
        title="Speckled Stoneware Mug",
        category=mugs,
        brand=brand,
        price=Decimal("14.00"),
        stock=6,
        description="A hand-glazed stoneware mug that keeps tea hot.",
    )


def test_browse_search_buy_and_see_the_order(live_server, page, shot, catalog):
    page.goto(live_server.url + "/account/register/")
    page.fill("input[name=username]", "e2eshopper")
    page.fill("input[name=email]", "e2e@example.com")
    page.fill("input[name=password1]", "a-long-pass-phrase")
    page.fill("input[name=password2]", "a-long-pass-phrase")
    shot(page, "01-register")
    page.click("button:has-text('Create account')")
    page.wait_for_url(live_server.url + "/")
    shot(page, "02-home")

    page.hover("nav.dept-nav >> text=Home & Kitchen")
    page.click("nav.dept-nav >> text=Mugs")
    page.wait_for_url("**/c/mugs/")
    assert page.locator("main .card__title").count() == 6
    shot(page, "03-category")

    page.fill("[role=search] input[name=q]", "stoneware")
    page.press("[role=search] input[name=q]", "Enter")
    page.wait_for_url("**/search/?q=stoneware*")
    shot(page, "04-search")
    page.click("text=Speckled Stoneware Mug")
    page.wait_for_url("**/p/**")
    assert page.locator("h1").inner_text() == "Speckled Stoneware Mug"
    shot(page, "05-product")

    page.fill("input[name=quantity]", "2")
    page.click("button:has-text('Add to cart')")
    page.wait_for_url("**/cart/")
    assert "Speckled Stoneware Mug" in page.content()
    shot(page, "06-cart")

    page.click("text=Checkout")
    page.wait_for_url("**/checkout/")
    page.fill("input[name=full_name]", "Eve Tester")
    page.fill("input[name=address_line1]", "3 Browser Street")
    page.fill("input[name=city]", "Bristol")
    page.fill("input[name=postcode]", "BS1 4DJ")
    page.fill("input[name=card_number]", "4242 4242 4242 4242")
    shot(page, "07-checkout")
    page.click("button:has-text('Place order')")
    page.wait_for_url("**/orders/LL-*/")
    order = Order.objects.get()
    assert order.number in page.content()
    assert order.total == Decimal("28.00") + Decimal("4.95")
    shot(page, "08-confirmation")

    page.goto(live_server.url + "/orders/")
    assert order.number in page.content()
    shot(page, "09-history")
    catalog.refresh_from_db()
    assert catalog.stock == 4
