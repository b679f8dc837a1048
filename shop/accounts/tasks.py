"""Celery tasks of accounts; each loads by id and calls a service."""

from celery import shared_task

from . import services


@shared_task(time_limit=60, soft_time_limit=50)
def password_reset_mail_send(*, user_id: int, domain: str, use_https: bool) -> bool:
    # No retries: a shopper waiting for the mail asks again sooner than a retry would come.
    return services.password_reset_mail_send(user_id=user_id, domain=domain, use_https=use_https)
