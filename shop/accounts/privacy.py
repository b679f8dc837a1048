"""A person's right to see and to erase what the shop holds about them."""

import logging
from datetime import UTC, datetime

from django.db import transaction
from redis.exceptions import RedisError

from personalization.api import profile_export, profile_forget
from segments.services import journal_drain, memberships_erase
from shop.orders.selectors import orders_export
from shop.orders.services import orders_anonymise
from tracking.api import events_erase, events_export
from tracking.owners import owner_key

from .selectors import DataSubject
from .services import account_sessions_end

logger = logging.getLogger(__name__)

PROFILE_UNAVAILABLE = "The live profile could not be read just now; download again later to include it."


def personal_data_export(*, subject: DataSubject) -> dict:
    """Everything held about the subject (see DataSubject for what that covers). The record comes
    from Postgres; when the live profile in Redis cannot be read, the export says so instead."""
    profiles = profile_export(user_id=subject.user_id, visitor_id=subject.visitor_id)
    data = {
        "exported_at": datetime.now(UTC).isoformat(),
        "visitor_ids": [str(visitor) for visitor in _visitor_ids(subject)],
        "events": events_export(user_id=subject.user_id, visitor_id=subject.visitor_id),
        "profiles": profiles,
    }
    if profiles is None:
        data["profiles_unavailable"] = PROFILE_UNAVAILABLE
    if subject.user is not None:
        user = subject.user
        data["account"] = {
            "username": user.get_username(),
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "date_joined": user.date_joined.isoformat(),
        }
        data["orders"] = orders_export(user=user)
    return data


def _visitor_ids(subject: DataSubject) -> list:
    visitors = list(subject.linked_visitor_ids)
    if subject.visitor_id is not None and subject.visitor_id not in visitors:
        visitors.append(subject.visitor_id)
    return visitors


def personal_data_erase(*, subject: DataSubject) -> dict:
    """Erase the subject's events and segment memberships, anonymise their orders, close the
    account and end its sessions on every device; their live profile, segment counters and rows in
    stored model versions follow once this commits (retried until Redis answers, see
    personalization.erasure)."""
    user = subject.user
    # Transitions still in the journal would otherwise reach the record after their owner is gone.
    # With Redis away nothing can drain it; the sweep then closes what reaches the record later
    # (an owner with no events left leaves every segment), and the erase itself must not wait.
    try:
        journal_drain()
    except RedisError:
        logger.warning("membership journal not drained before an erase: Redis did not answer")
    with transaction.atomic():
        events = events_erase(user_id=subject.user_id, visitor_id=subject.visitor_id)
        orders, session_keys = 0, []
        if user is not None:
            orders = orders_anonymise(user=user)
            session_keys = account_sessions_end(user=user)
        owners = [owner_key(user_id=None, visitor_id=visitor) for visitor in _visitor_ids(subject)]
        if subject.user_id is not None:
            owners.append(owner_key(user_id=subject.user_id, visitor_id=None))
        profile_forget(
            user_id=subject.user_id,
            visitor_id=subject.visitor_id,
            past_visitor_ids=subject.linked_visitor_ids,
            redis_keys=[*session_keys, *memberships_erase(owners=owners)],
        )
        if user is not None:
            user.delete()
    return {"events": events, "orders_anonymised": orders}
