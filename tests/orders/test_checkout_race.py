"""One checkout submitted five times at once from one session, on real Postgres: one order, one payment."""

import threading

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse

from shop.orders.models import Order
from tests.factories.catalog import ProductFactory
from tests.factories.orders import CheckoutFormFactory
from tests.orders.checkout import hidden_fields

SUBMITS = 5


@pytest.mark.django_db(transaction=True)
def test_five_simultaneous_submits_of_one_checkout_place_one_order():
    assert connection.vendor == "postgresql"
    product = ProductFactory(stock=5)
    shopper = Client()
    shopper.post(reverse("orders:cart_add"), {"product_id": product.pk, "quantity": 1})
    form = {**CheckoutFormFactory(), **hidden_fields(shopper.get(reverse("orders:checkout")))}
    session_cookie = shopper.cookies[settings.SESSION_COOKIE_NAME].value
    start = threading.Barrier(SUBMITS)
    answers: list[tuple[int, str]] = []
    tabs: list[Client] = []

    def submit() -> None:
        tab = Client(raise_request_exception=False)
        tab.cookies[settings.SESSION_COOKIE_NAME] = session_cookie
        tabs.append(tab)
        try:
            start.wait()
            response = tab.post(reverse("orders:checkout"), form)
            answers.append((response.status_code, response.get("Location", "")))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(SUBMITS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    orders = list(Order.objects.all())
    assert len(orders) == 1, f"{len(orders)} orders from one checkout"
    order = orders[0]
    assert order.status == Order.Status.PAID
    product.refresh_from_db()
    assert product.stock == 4
    assert answers == [(302, order.get_absolute_url())] * SUBMITS
    # Whichever answer the browser shows, the session may see the order it was sent to.
    assert shopper.get(order.get_absolute_url()).status_code == 200
