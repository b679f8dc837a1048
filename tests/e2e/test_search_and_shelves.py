"""In a browser at desktop and phone widths: a typo searched, the type-ahead by keyboard, and shelves that say why."""

import time
from decimal import Decimal

import pytest

from personalization.training import model_train
from shop.catalog.services.search import search_words_refresh
from tests.factories.catalog import BrandFactory, CategoryFactory, DepartmentFactory, ProductFactory
from tests.factories.tracking import carts_history
from tracking.models import Event

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def wardrobe():
    """Shirts that past shoppers bought with chinos, and a kitchen aisle besides."""
    clothing = DepartmentFactory(name="Clothing", slug="clothing")
    shirts = CategoryFactory(department=clothing, name="Shirts", slug="shirts")
    trousers = CategoryFactory(department=clothing, name="Trousers", slug="trousers")
    mugs = CategoryFactory(department=DepartmentFactory(name="Kitchen", slug="kitchen"), name="Mugs", slug="mugs")
    brand = BrandFactory(name="Thread & Co", slug="thread-co")
    oxford = ProductFactory(title="Oxford Shirt", category=shirts, brand=brand, price=Decimal("39.00"))
    linen = ProductFactory(title="Linen Shirt", category=shirts, brand=brand, price=Decimal("45.00"))
    chinos = ProductFactory(title="Stone Chinos", category=trousers, brand=brand, price=Decimal("49.00"))
    belt = ProductFactory(title="Leather Belt", category=trousers, brand=brand, price=Decimal("25.00"))
    ProductFactory(title="Polo Shirt", category=shirts, brand=brand, price=Decimal("29.00"))
    for title in ("Stoneware Mug", "Enamel Mug", "Glass Mug", "Porcelain Mug", "Tin Mug", "Travel Mug"):
        ProductFactory(title=title, category=mugs, price=Decimal("12.00"))
    carts_history(baskets=[(oxford, chinos, belt) if shopper % 2 == 0 else (linen, chinos) for shopper in range(6)])
    for name in ("popularity", "trending", "itemknn", "session", "content"):
        model_train(name=name)
    search_words_refresh()
    return {"oxford": oxford}


def _heading_texts(page) -> list[str]:
    return [text.strip() for text in page.locator("main h2").all_inner_texts()]


def _wait_for_view(product, timeout: float = 10.0) -> None:
    """The tracker batches for 1.5 s: wait until its view of the product is stored."""
    deadline = time.monotonic() + timeout
    while not Event.objects.filter(name="view_item", product_id=product.pk).exists():
        assert time.monotonic() < deadline, "the tracker's view_item never arrived"
        time.sleep(0.25)


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_typo_is_forgiven_and_the_shelves_say_why(live_server, browser, shot, wardrobe, width):
    context = browser.new_context(viewport=WIDTHS[width])
    page = context.new_page()
    try:
        page.goto(live_server.url + "/")
        page.click("#consent-banner button[value=granted]")
        page.wait_for_selector("#consent-banner", state="hidden")
        headings = _heading_texts(page)
        assert "Popular now" in headings and "Recommended for you" not in headings
        assert not any(h.startswith(("Recently viewed", "Because you viewed")) for h in headings)
        shot(page, f"{width}-01-home-new-visitor")

        box = page.locator("[role=search] input[name=q]")
        box.click()
        box.press_sequentially("shrit", delay=60)
        first = page.locator("#site-search-suggestions [role=option]").first
        first.wait_for()
        assert box.get_attribute("aria-expanded") == "true"
        assert first.inner_text().startswith("Search for shirt")
        shot(page, f"{width}-02-type-ahead-typo")
        box.press("Enter")  # nothing highlighted: the form searches what was typed
        page.wait_for_url("**/search/?q=shrit")
        titles = page.locator("main .card__title").all_inner_texts()
        assert sorted(t.strip() for t in titles) == ["Linen Shirt", "Oxford Shirt", "Polo Shirt"]
        assert page.locator("[data-did-you-mean]").inner_text() == "shirt"
        shot(page, f"{width}-03-search-typo")

        box = page.locator("[role=search] input[name=q]")
        box.fill("")
        box.press_sequentially("oxfo", delay=60)
        page.locator("#site-search-suggestions [role=option]").first.wait_for()
        box.press("ArrowDown")
        assert box.get_attribute("aria-activedescendant") == "site-search-suggestion-0"
        shot(page, f"{width}-04-type-ahead-keyboard")
        box.press("Enter")
        page.wait_for_url("**/p/**")
        assert page.locator("h1").inner_text() == "Oxford Shirt"
        shot(page, f"{width}-05-product")
        _wait_for_view(wardrobe["oxford"])

        page.goto(live_server.url + "/")
        headings = _heading_texts(page)
        assert "Recently viewed" in headings and "Because you viewed Oxford Shirt" in headings
        assert "Recommended for you" in headings and "Popular now" not in headings
        recent = page.locator("[data-slot-block=home_recent] .card__title").all_inner_texts()
        assert [t.strip() for t in recent] == ["Oxford Shirt"]
        because = page.locator("[data-slot-block=home_because_viewed] .card__title").all_inner_texts()
        assert "Stone Chinos" in [t.strip() for t in because]
        shot(page, f"{width}-06-home-after-a-view")

        page.goto(live_server.url + "/cart/")
        assert "Complete your order" not in page.content()
        shot(page, f"{width}-07-empty-cart")
    finally:
        context.close()
