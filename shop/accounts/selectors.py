"""Whose data a request may see and erase: the one rule behind the privacy download and erase."""

import uuid
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest

from tracking.api import visitor_ids_of


@dataclass(frozen=True)
class DataSubject:
    """user: the account logged in on this request, whose events, profile, orders and account
    details are all included. visitor_id: this browser's visitor id (with consent), of which only
    what was recorded anonymously is included. linked_visitor_ids: the visitor ids the account was
    tied to on login, listed in the download; their later anonymous use is not the account's."""

    user: AbstractBaseUser | None
    visitor_id: uuid.UUID | None
    linked_visitor_ids: tuple[uuid.UUID, ...] = ()

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user is not None else None

    @property
    def is_empty(self) -> bool:
        return self.user is None and self.visitor_id is None


def data_subject(*, request: HttpRequest) -> DataSubject:
    """An account's data needs that account's session; the visitor cookie on its own reaches only
    the anonymous events and profile of its visitor id, never an account it was once tied to
    (a cookie outlives a login, and can be copied to another browser)."""
    user = request.user if request.user.is_authenticated else None
    context = request.tracking
    return DataSubject(
        user=user,
        visitor_id=context.visitor_id if context.granted else None,
        linked_visitor_ids=tuple(visitor_ids_of(user_id=user.pk)) if user is not None else (),
    )
