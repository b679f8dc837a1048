"""Two shoppers racing for the last unit on real Postgres: exactly one wins."""

import threading

import pytest
from django.db import connection

from shop.orders import services
from shop.orders.models import Order
from tests.factories.catalog import ProductFactory
from tests.factories.orders import CartFactory, CartLineFactory

ADDRESS = services.ShippingAddress(
    full_name="Racer", email="racer@example.com", address_line1="1 Fast Lane", city="Leeds", postcode="LS1 1AA"
)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("shoppers", [2, 8])
def test_last_units_are_sold_once(shoppers):
    assert connection.vendor == "postgresql"
    product = ProductFactory(stock=1)
    carts = [CartFactory() for _ in range(shoppers)]
    for cart in carts:
        CartLineFactory(cart=cart, product=product, quantity=1)
    start = threading.Barrier(shoppers)
    outcomes: list[str] = []

    def checkout(cart):
        try:
            start.wait()
            services.order_place(cart=cart, user=None, address=ADDRESS, card_number="4242424242424242")
            outcomes.append("sold")
        except services.OutOfStock:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=checkout, args=(cart,)) for cart in carts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    product.refresh_from_db()
    assert sorted(outcomes) == ["refused"] * (shoppers - 1) + ["sold"]
    assert product.stock == 0
    assert Order.objects.count() == 1
