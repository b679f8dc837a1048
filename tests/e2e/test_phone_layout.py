"""On a phone: filters folded behind a button, the department menu scrolls sideways, Add to cart shows on arrival."""

from decimal import Decimal

import pytest

from tests.factories.catalog import BrandFactory, CategoryFactory, DepartmentFactory, ProductFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Playwright's iPhone 12: the page's area once the browser's own bars are drawn.
PHONE = {"width": 390, "height": 664}
DESKTOP = {"width": 1280, "height": 900}
DEPARTMENTS = ("Electronics", "Home & Kitchen", "Fashion", "Sports & Outdoors", "Beauty", "Toys & Games")


@pytest.fixture
def catalog():
    departments = [DepartmentFactory(name=name, slug=f"dept-{i}", position=i) for i, name in enumerate(DEPARTMENTS)]
    tees = CategoryFactory(department=departments[2], name="T-Shirts", slug="t-shirts")
    for name in ("Jeans", "Jumpers", "Jackets", "Dresses", "Trainers", "Boots", "Scarves", "Socks"):
        CategoryFactory(department=departments[2], name=name, slug=name.lower())
    brands = [BrandFactory(name=f"Brand {letter}", slug=f"brand-{letter}") for letter in "abcd"]
    for i in range(8):
        ProductFactory(category=tees, brand=brands[i % 4], stock=5)
    # A long title over three lines and a brand: the most a product page puts above its buying box.
    return ProductFactory(
        title="Basics Collective Organic Cotton Relaxed Long-Sleeve Crew Neck T-Shirt, Mustard",
        category=tees,
        brand=brands[0],
        price=Decimal("16.99"),
        compare_at_price=Decimal("19.99"),
        stock=12,
        description="Soft organic cotton.\n\nA relaxed fit that keeps its shape.",
    )


def _consent(page, live_server) -> None:
    page.goto(live_server.url + "/")
    page.click("#consent-banner button[value=granted]")
    page.wait_for_selector("#consent-banner", state="hidden")


def _phone(browser, live_server):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    _consent(page, live_server)
    return context, page


def _within_viewport(page, selector: str) -> bool:
    """The element's box lies inside the first screen and nothing covers its middle."""
    return page.evaluate(
        """(selector) => {
            const element = document.querySelector(selector);
            const box = element.getBoundingClientRect();
            const inside = box.top >= 0 && box.left >= 0 && box.bottom <= innerHeight && box.right <= innerWidth;
            const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
            return inside && element.contains(hit);
        }""",
        selector,
    )


def test_add_to_cart_is_on_the_first_phone_screen_and_adds(browser, live_server, shot, catalog):
    context, page = _phone(browser, live_server)
    page.goto(live_server.url + catalog.get_absolute_url())
    assert page.evaluate("scrollY") == 0
    assert _within_viewport(page, ".add-to-cart button[type=submit]")
    assert _within_viewport(page, ".add-to-cart input[name=quantity]")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # What the shopper sees on arrival (the full page is taken below, once the box has settled).
    page.screenshot(path=str(shot(page, "product-phone-first-screen")))
    # Read down the page: the buying box settles in its place under the price, not over the reviews.
    page.locator("#reviews").scroll_into_view_if_needed()
    reviews_top = page.locator("#reviews").bounding_box()["y"]
    assert page.locator(".add-to-cart").bounding_box()["y"] < reviews_top
    shot(page, "product-phone")
    page.fill("input[name=quantity]", "2")
    page.click(".add-to-cart button[type=submit]")
    page.wait_for_url("**/cart/")
    assert catalog.title in page.content()
    context.close()


def test_filters_fold_behind_a_button_on_a_phone(browser, live_server, shot, catalog):
    context, page = _phone(browser, live_server)
    page.goto(live_server.url + "/c/t-shirts/")
    toggle = page.locator(".filters summary")
    assert toggle.is_visible() and "Filter and sort" in toggle.inner_text()
    assert page.locator(".filters button:has-text('Apply')").is_hidden()
    assert page.locator(".filters input[name=brand]").first.is_hidden()
    # The first products are on the first screen, not below a screenful of checkboxes.
    assert page.locator("main .card").first.bounding_box()["y"] < PHONE["height"]
    shot(page, "category-phone")
    toggle.click()
    shot(page, "category-phone-filters-open")
    page.check("input[name=brand][value=brand-a]")
    page.click(".filters button:has-text('Apply')")
    page.wait_for_url("**/c/t-shirts/?*brand=brand-a*")
    # Folded again on the filtered page, saying a filter is on.
    assert page.locator(".filters button:has-text('Apply')").is_hidden()
    assert "(1 applied)" in toggle.inner_text()
    assert page.locator("main .card").count() == 3
    context.close()


def test_the_department_menu_and_category_chips_scroll_sideways_on_a_phone(browser, live_server, catalog):
    context, page = _phone(browser, live_server)
    page.goto(live_server.url + "/c/t-shirts/")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for selector in (".dept-nav__list", ".chips ul"):
        row = page.evaluate(
            """(selector) => {
                const list = document.querySelector(selector);
                const tops = [...list.children].map((item) => Math.round(item.getBoundingClientRect().top));
                const before = list.scrollLeft;
                list.scrollLeft = 200;
                const overflow = getComputedStyle(list).overflowX;
                return {rows: new Set(tops).size, scrolls: list.scrollLeft > before, overflow};
            }""",
            selector,
        )
        assert row == {"rows": 1, "scrolls": True, "overflow": "auto"}, selector
    # Every department can be reached by a tap, its drop-down lists being for wider screens.
    page.locator(".dept-nav__link", has_text="Toys & Games").scroll_into_view_if_needed()
    page.locator(".dept-nav__link", has_text="Toys & Games").tap()
    page.wait_for_url("**/d/dept-5/")
    context.close()


def test_filters_stay_open_beside_the_products_on_a_desktop(page, live_server, shot, catalog):
    page.set_viewport_size(DESKTOP)
    _consent(page, live_server)
    page.goto(live_server.url + "/c/t-shirts/")
    assert page.locator(".filters button:has-text('Apply')").is_visible()
    assert page.locator(".filters input[name=brand]").first.is_visible()
    # A heading, not a button that would claim to fold what stays shown.
    assert page.locator(".filters summary").is_hidden()
    assert page.locator(".filters h2").is_visible()
    shot(page, "category-desktop")
    page.goto(live_server.url + catalog.get_absolute_url())
    assert page.locator(".add-to-cart button[type=submit]").is_visible()
    # Beside the picture, in the page's flow: not a bar stuck to the screen's foot.
    assert page.evaluate("getComputedStyle(document.querySelector('.add-to-cart')).position") == "static"
    shot(page, "product-desktop")
