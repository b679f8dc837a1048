"""The order mail outbox: a row written in the order's transaction, sent once by a worker."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from .models import Order, OrderNotification

logger = logging.getLogger(__name__)

# Beat sweeps once a minute, so sixty tries ride out an hour without a mail server; after that
# the mail shows as failed in the order's admin, where staff can send it again.
MAX_ATTEMPTS = 60
# Bounds one sweep well inside its task's time limit even with a slow mail server (each send
# holds one row lock for one SMTP exchange); what is left waits a minute for the next sweep.
SWEEP_BATCH = 200
# The mail of each kind: template and subject (the subject is formatted with the order).
MAILS = {
    OrderNotification.Kind.CONFIRMATION: (
        "orders/email/confirmation.txt",
        "{shop_name}: order {order.number} confirmed",
    ),
}


def notification_queue(*, order: Order, kind: str) -> OrderNotification:
    """Owe the shopper a mail; call it inside the transaction that writes the order.

    Once that transaction commits a worker is asked to send it at once. When the broker cannot
    take the request, that is logged and nothing else happens: the committed order and its
    shopper's response do not depend on it, and the sweep (notifications_send_pending) sends
    the mail once a worker runs again.
    """
    notification = OrderNotification.objects.create(order=order, kind=kind)
    transaction.on_commit(lambda: _worker_ask(notification_id=notification.pk), robust=True)
    return notification


def _worker_ask(*, notification_id: int) -> None:
    from .tasks import order_notification_send  # the task module imports this one

    # No publish retries: a shopper's response is waiting, and the sweep is the retry.
    order_notification_send.apply_async(kwargs={"notification_id": notification_id}, retry=False)


def notification_send(*, notification_id: int) -> bool:
    """Send one owed mail, unless it is sent or given up on already or another worker is sending
    it right now; True when this call sent it.

    The row stays locked (FOR UPDATE SKIP LOCKED) while the mail goes out and is marked sent in
    the same transaction, so however many workers and sweeps reach it, one sends it. A mail
    server that is away or refuses costs one attempt and leaves its error on the row. Only a
    crash after the mail server accepted the mail and before the commit can send it twice.
    """
    with transaction.atomic():
        notification = (
            OrderNotification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("order")
            .filter(pk=notification_id, status=OrderNotification.Status.PENDING)
            .first()
        )
        if notification is None:
            return False
        notification.attempts += 1
        try:
            _mail(notification)
        except Exception as error:
            # Any failure costs an attempt, not only a mail server's (smtplib's are OSErrors): a
            # template or header error that rolled back would be retried every minute forever.
            notification.last_error = f"{type(error).__name__}: {error}"
            if notification.attempts >= MAX_ATTEMPTS:
                notification.status = OrderNotification.Status.FAILED
            notification.save(update_fields=["attempts", "last_error", "status"])
            logger.warning("order %s: %s mail not sent", notification.order, notification.kind, exc_info=True)
            return False
        notification.status = OrderNotification.Status.SENT
        notification.sent_at = timezone.now()
        notification.save(update_fields=["attempts", "status", "sent_at"])
    return True


def _mail(notification: OrderNotification) -> None:
    template, subject = MAILS[notification.kind]
    order = notification.order
    send_mail(
        subject=subject.format(shop_name=settings.SHOP_NAME, order=order),
        message=render_to_string(template, {"order": order, "shop_name": settings.SHOP_NAME}),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[order.email],
    )


def notifications_send_pending(*, limit: int = SWEEP_BATCH) -> int:
    """Send the mails still owed (the broker was away, a worker died, the mail server refused),
    oldest first; returns how many this call sent."""
    owed = OrderNotification.objects.filter(status=OrderNotification.Status.PENDING).order_by("id")
    return sum(notification_send(notification_id=pk) for pk in list(owed.values_list("pk", flat=True)[:limit]))


def notifications_retry(*, orders: QuerySet[Order]) -> int:
    """Owe again the mails of these orders that were given up on; returns how many."""
    return OrderNotification.objects.filter(order__in=orders, status=OrderNotification.Status.FAILED).update(
        status=OrderNotification.Status.PENDING, attempts=0
    )
