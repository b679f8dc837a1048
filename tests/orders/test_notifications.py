"""The order mail outbox: a checkout never fails for want of a broker, and each mail goes out once."""

import contextlib
import threading
import time

import kombu.pools
import pytest
from celery.contrib.testing.worker import start_worker
from celery.schedules import crontab
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from bench._server import free_port
from shop.celery import app
from shop.orders import notifications, tasks
from shop.orders.models import Order, OrderNotification
from tests.factories.catalog import ProductFactory
from tests.factories.orders import CheckoutFormFactory, OrderNotificationFactory
from tests.orders.checkout import hidden_fields
from tracking.models import Event

# With the broker away a checkout waits for one short failed connection (2.3 s measured), not for
# kombu's default 4 s connect timeout and its retries (6.3 s measured).
CHECKOUT_SECONDS_BROKER_DOWN = 4
WORKER_WAIT_SECONDS = 15


@contextlib.contextmanager
def broker_at(url: str):
    """Point the Celery app at another broker for a while. Its connection and producer pools
    (the app's and kombu's registry of them) are dropped on the way in and out, so the next
    publish really connects to url; Celery has no public way to re-point a configured app."""

    def drop_pools() -> None:
        kombu.pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    previous = app.conf.broker_url
    drop_pools()
    app.conf.broker_url = url
    try:
        yield
    finally:
        drop_pools()
        app.conf.broker_url = previous


def _closed_redis_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


def _wait_for(condition, *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.django_db(transaction=True)
def test_checkout_with_redis_down_shows_the_order_and_the_mail_goes_once_redis_is_back(client):
    assert not app.conf.task_always_eager
    product = ProductFactory(stock=3)
    assert client.post(reverse("tracking:consent"), {"choice": "granted"}).status_code == 302
    client.post(reverse("orders:cart_add"), {"product_id": product.pk, "quantity": 1})
    page = client.get(reverse("orders:checkout"))
    app.control.purge()

    # Redis away altogether: the broker and the cache (sessions' cache, profiles) on a closed port.
    closed = _closed_redis_url()
    with broker_at(closed), override_settings(CACHES={"default": {**settings.CACHES["default"], "LOCATION": closed}}):
        began = time.monotonic()
        response = client.post(reverse("orders:checkout"), {**CheckoutFormFactory(), **hidden_fields(page)})
        checkout_seconds = time.monotonic() - began
        order = Order.objects.get()
        assert response.status_code == 302, response.content[:2000]
        assert response["Location"] == order.get_absolute_url()
        assert order.number in client.get(response["Location"]).content.decode()
    assert checkout_seconds < CHECKOUT_SECONDS_BROKER_DOWN, f"checkout took {checkout_seconds:.1f} s"

    assert order.status == Order.Status.PAID
    product.refresh_from_db()
    assert product.stock == 2
    assert Event.objects.filter(name="purchase", properties__transaction_id=order.number).count() == 1
    owed = OrderNotification.objects.get(order=order)
    assert owed.status == OrderNotification.Status.PENDING
    assert mail.outbox == []

    # The broker is back: beat's sweep, run by a real worker, sends the mail; further sweeps send nothing.
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        tasks.order_notifications_send_pending.delay()
        assert _wait_for(lambda: mail.outbox, seconds=WORKER_WAIT_SECONDS), "the sweep sent no mail"
    assert tasks.order_notifications_send_pending() == 0
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]
    assert order.number in mail.outbox[0].subject
    owed.refresh_from_db()
    assert (owed.status, owed.attempts) == (OrderNotification.Status.SENT, 1)
    assert owed.sent_at is not None


def test_the_sweep_runs_every_minute():
    entry = next(
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == tasks.order_notifications_send_pending.name
    )
    assert entry["schedule"] == crontab(minute="*")


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_each_mail_once():
    orders = [OrderNotificationFactory().order for _ in range(12)]
    start = threading.Barrier(3)
    sent: list[int] = []

    def sweep() -> None:
        try:
            start.wait()
            sent.append(notifications.notifications_send_pending())
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sum(sent) == len(orders)
    assert sorted(message.subject for message in mail.outbox) == sorted(
        f"{settings.SHOP_NAME}: order {order.number} confirmed" for order in orders
    )
    assert set(OrderNotification.objects.values_list("status", flat=True)) == {OrderNotification.Status.SENT}


@pytest.mark.django_db(transaction=True)
def test_a_refusing_mail_server_is_retried_and_its_error_kept(settings):
    order = OrderNotificationFactory().order
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 1
    assert notifications.notifications_send_pending() == 0
    owed = order.notifications.get()
    assert (owed.status, owed.attempts) == (OrderNotification.Status.PENDING, 1)
    assert "refused" in owed.last_error.lower()

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notifications.notifications_send_pending() == 1
    owed.refresh_from_db()
    assert (owed.status, owed.attempts) == (OrderNotification.Status.SENT, 2)
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_mail_that_cannot_even_be_built_still_costs_an_attempt(monkeypatch):
    """A broken template is no mail server's fault, but retrying it every minute forever helps nobody."""
    order = OrderNotificationFactory().order
    broken = {
        kind: ("orders/email/no-such-template.txt", subject) for kind, (_, subject) in notifications.MAILS.items()
    }
    monkeypatch.setattr(notifications, "MAILS", broken)
    assert notifications.notifications_send_pending() == 0
    owed = order.notifications.get()
    assert (owed.status, owed.attempts) == (OrderNotification.Status.PENDING, 1)
    assert "TemplateDoesNotExist" in owed.last_error


@pytest.mark.django_db
def test_erasing_the_customer_drops_the_mails_still_owed_to_them():
    from shop.orders.services import orders_anonymise
    from tests.factories.accounts import UserFactory

    user = UserFactory()
    owed = OrderNotificationFactory(order__user=user)
    orders_anonymise(user=user)
    assert not OrderNotification.objects.filter(pk=owed.pk).exists()
    assert notifications.notifications_send_pending() == 0
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_after_the_last_attempt_the_mail_shows_failed_and_staff_can_send_it_again(settings, staff_client):
    order = OrderNotificationFactory().order
    order.notifications.update(attempts=notifications.MAX_ATTEMPTS - 1)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 1
    notifications.notifications_send_pending()
    assert order.notifications.get().status == OrderNotification.Status.FAILED
    assert notifications.notifications_send_pending() == 0  # given up on: the sweep leaves it alone

    change_page = staff_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert change_page.status_code == 200
    assert "Failed" in change_page.content.decode()
    assert "refused" in change_page.content.decode().lower()

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    response = staff_client.post(
        reverse("admin:orders_order_changelist"), {"action": "mail_again", "_selected_action": [order.pk]}
    )
    assert response.status_code == 302
    assert order.notifications.get().status == OrderNotification.Status.PENDING
    assert notifications.notifications_send_pending() == 1
    assert len(mail.outbox) == 1
