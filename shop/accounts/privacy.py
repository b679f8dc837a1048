"""A person's right to see and to erase what the shop holds about them."""

import uuid
from datetime import UTC, datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from personalization.api import profile_export, profile_forget
from shop.orders.selectors import orders_export
from shop.orders.services import orders_anonymise
from tracking.services import events_erase, events_export, visitor_ids_of


def _visitors(user: AbstractBaseUser | None, visitor_id: uuid.UUID | None) -> list[uuid.UUID]:
    visitors = visitor_ids_of(user_id=user.pk) if user is not None else []
    if visitor_id is not None and visitor_id not in visitors:
        visitors.append(visitor_id)
    return visitors


def personal_data_export(*, user: AbstractBaseUser | None, visitor_id: uuid.UUID | None) -> dict:
    visitors = _visitors(user, visitor_id)
    user_id = user.pk if user is not None else None
    data = {
        "exported_at": datetime.now(UTC).isoformat(),
        "visitor_ids": [str(visitor) for visitor in visitors],
        "events": events_export(user_id=user_id, visitor_ids=visitors),
        "profiles": profile_export(user_id=user_id, visitor_ids=visitors),
    }
    if user is not None:
        data["account"] = {
            "username": user.get_username(),
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "date_joined": user.date_joined.isoformat(),
        }
        data["orders"] = orders_export(user=user)
    return data


def personal_data_erase(*, user: AbstractBaseUser | None, visitor_id: uuid.UUID | None) -> dict:
    """Erase events and profiles, anonymise orders, and close the account."""
    visitors = _visitors(user, visitor_id)
    user_id = user.pk if user is not None else None
    with transaction.atomic():
        events = events_erase(user_id=user_id, visitor_ids=visitors)
        orders = orders_anonymise(user=user) if user is not None else 0
        if user is not None:
            user.delete()
    profile_forget(user_id=user_id, visitor_ids=visitors)
    return {"events": events, "orders_anonymised": orders}
