"""The catalogue kept per process: repeated pages skip the database, and every kind of write shows on the next page."""

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from shop.catalog import selectors
from shop.catalog.models import Product, Review
from shop.catalog.services.reviews import review_submit, reviews_publish
from shop.orders import services
from tests.factories.accounts import UserFactory
from tests.factories.catalog import CategoryFactory, ProductFactory
from tests.factories.orders import CartFactory

pytestmark = pytest.mark.django_db


def _catalogue_queries(client, path: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return [query["sql"] for query in captured.captured_queries if "catalog_" in query["sql"]]


def test_once_a_page_read_the_catalogue_home_and_product_pages_read_nothing_of_it(client):
    products = ProductFactory.create_batch(10)
    assert _catalogue_queries(client, reverse("home"))
    for path in (reverse("home"), products[0].get_absolute_url(), products[1].get_absolute_url()):
        assert _catalogue_queries(client, path) == []


def test_a_saved_product_shows_on_the_next_page(client):
    product = ProductFactory(title="Plain Mug", stock=9)
    client.get(reverse("home"))
    client.get(product.get_absolute_url())
    product.title, product.stock = "Glazed Mug", 2
    product.save()
    assert "Glazed Mug" in client.get(reverse("home")).content.decode()
    assert "only 2 left" in client.get(product.get_absolute_url()).content.decode()


def test_stock_an_order_takes_shows_on_the_next_page(client):
    product = ProductFactory(stock=4)
    assert "only 4 left" in client.get(product.get_absolute_url()).content.decode()
    cart = CartFactory()
    services.cart_add_item(cart=cart, product_id=product.pk, quantity=3)
    address = services.ShippingAddress(
        full_name="Ada Lovelace", email="ada@example.com", address_line1="1 Row", city="London", postcode="N1 1AA"
    )
    services.order_place(cart=cart, user=None, address=address, card_number="4242 4242 4242 4242")
    assert "only 1 left" in client.get(product.get_absolute_url()).content.decode()


def test_products_switched_off_in_admin_leave_the_shelves_on_the_next_page(client, staff_client):
    shown = ProductFactory(title="Plain Mug")
    assert "Plain Mug" in client.get(reverse("home")).content.decode()
    changelist = reverse("admin:catalog_product_changelist")
    staff_client.post(changelist, {"action": "make_inactive", "_selected_action": [shown.pk]})
    assert not Product.objects.get(pk=shown.pk).is_active
    assert "Plain Mug" not in client.get(reverse("home")).content.decode()
    assert client.get(shown.get_absolute_url()).status_code == 404


def test_a_review_published_by_staff_shows_on_the_next_page(client):
    product = ProductFactory()
    review_submit(product=product, user=UserFactory(), rating=4, title="Holds a lot of tea")
    assert "Holds a lot of tea" not in client.get(product.get_absolute_url()).content.decode()
    reviews_publish(reviews=Review.objects.filter(product=product))
    assert "Holds a lot of tea" in client.get(product.get_absolute_url()).content.decode()


def test_pages_read_the_database_when_redis_is_away(client, monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from shop.catalog import snapshot

    product = ProductFactory(title="Plain Mug")

    class Away:
        def __getattr__(self, name):
            def refuse(*args, **kwargs):
                raise RedisConnectionError("away")

            return refuse

    monkeypatch.setattr(snapshot, "redis_client", lambda: Away())
    response = client.get(product.get_absolute_url())
    assert response.status_code == 200 and "Plain Mug" in response.content.decode()


def test_kept_shelves_and_ratings_are_what_the_database_says():
    category = CategoryFactory()
    products = ProductFactory.create_batch(12, category=category)
    # Two pairs of products made at the same moment: ties go by id, as in the database.
    for first, second in ((products[2], products[3]), (products[6], products[7])):
        Product.objects.filter(pk=second.pk).update(created_at=first.created_at)
    ProductFactory(category=category, stock=0)
    for rating, user in zip((5, 4, 2), UserFactory.create_batch(3), strict=True):
        review_submit(product=products[1], user=user, rating=rating, publish=True)
    product = Product.objects.get(pk=products[1].pk)
    related = [p.pk for p in selectors.products_related(product=product)]
    # What the page's personal shelves show is left out, and the shelf fills from further down.
    everyone = [p.pk for p in selectors.products_related(product=product, limit=20)]
    shown = {everyone[0], everyone[3]}
    less = [p.pk for p in selectors.products_related(product=product, exclude=shown)]
    assert less == [pk for pk in everyone if pk not in shown][:8] and len(less) == 8
    rating = selectors.product_reviews(product=product)[0]
    newest = [p.pk for p in selectors.products_newest(limit=8)]
    # As in a request, without the request's closing of the test's database connection.
    request_started.disconnect(close_old_connections)
    request_started.send(sender=None)
    try:
        kept = selectors.product_detail(slug=product.slug)
        assert [p.pk for p in selectors.products_related(product=kept)] == related
        assert [p.pk for p in selectors.products_related(product=kept, exclude=shown)] == less
        assert selectors.product_reviews(product=kept)[0] == rating
        assert [p.pk for p in selectors.products_newest(limit=8)] == newest
        assert selectors.product_detail(slug=product.slug) is kept  # read once, not again
    finally:
        request_finished.disconnect(close_old_connections)
        request_finished.send(sender=None)
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
