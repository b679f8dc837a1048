"""Celery tasks of orders; each loads by id and calls a service."""

from celery import shared_task
from django.conf import settings

from . import services


@shared_task(bind=True, max_retries=5, default_retry_delay=30, time_limit=60, soft_time_limit=50)
def order_send_confirmation(self, *, order_id: int) -> None:
    try:
        services.order_confirmation_send(order_id=order_id)
    except OSError as exc:  # the mail server is away: try again later
        raise self.retry(exc=exc) from exc


@shared_task(time_limit=600, soft_time_limit=540)
def carts_purge_abandoned() -> int:
    return services.carts_purge_abandoned(older_than_days=settings.CART_ANONYMOUS_TTL_DAYS)
