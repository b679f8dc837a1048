"""The order confirmation reaches a real Celery worker over the Redis broker."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.core import mail

from shop.celery import app
from shop.orders import services
from tests.factories.catalog import ProductFactory
from tests.factories.orders import CartFactory, CartLineFactory


@pytest.mark.django_db(transaction=True)
def test_order_confirmation_is_sent_by_a_worker():
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    assert not app.conf.task_always_eager
    cart = CartFactory()
    CartLineFactory(cart=cart, product=ProductFactory(stock=3), quantity=1)
    address = services.ShippingAddress(
        full_name="Grace Hopper",
        email="grace@example.com",
        address_line1="2 Cobol Way",
        city="York",
        postcode="YO1 1AA",
    )
    app.control.purge()  # tasks queued by earlier tests name rows that are gone
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        order = services.order_place(cart=cart, user=None, address=address, card_number="4242424242424242")
        deadline = time.monotonic() + 15
        while not mail.outbox and time.monotonic() < deadline:
            time.sleep(0.05)
    assert [message.to for message in mail.outbox] == [["grace@example.com"]]
    assert order.number in mail.outbox[0].body
