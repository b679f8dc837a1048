"""Celery tasks of orders; each loads by id and calls a service."""

from celery import shared_task
from django.conf import settings

from . import notifications, services


@shared_task(time_limit=60, soft_time_limit=50)
def order_notification_send(*, notification_id: int) -> bool:
    # No retries here: a mail that could not go stays owed, and the sweep below sends it.
    return notifications.notification_send(notification_id=notification_id)


@shared_task(time_limit=300, soft_time_limit=270)
def order_notifications_send_pending() -> int:
    return notifications.notifications_send_pending()


@shared_task(time_limit=600, soft_time_limit=540)
def carts_purge_abandoned() -> int:
    return services.carts_purge_abandoned(older_than_days=settings.CART_ANONYMOUS_TTL_DAYS)
