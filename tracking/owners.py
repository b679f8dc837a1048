"""Whose an event is: a signed-in user's (across devices), else one anonymous visitor's.

Profiles, training, evaluation, erasure and the rebuild all key people this one way, as
text: "u:<user id>" or "v:<visitor uuid>".
"""

import uuid
from dataclasses import dataclass
from typing import Self

from django.db.models import Case, CharField, Value, When
from django.db.models.functions import Cast, Concat


@dataclass(frozen=True, slots=True)
class Owner:
    user_id: int | None = None
    visitor_id: uuid.UUID | None = None

    @classmethod
    def of(cls, *, user_id: int | None, visitor_id: uuid.UUID | str | None) -> Self:
        """A user's events are the user's whatever device sent them; without one, the visitor's."""
        if user_id:
            return cls(user_id=int(user_id))
        if visitor_id is None:
            raise ValueError("an owner needs a user id or a visitor id")
        return cls(visitor_id=visitor_id if isinstance(visitor_id, uuid.UUID) else uuid.UUID(str(visitor_id)))

    @classmethod
    def parse(cls, key: str) -> Self:
        """The owner a key names; ValueError for anything but u:<user id> or v:<visitor uuid>."""
        kind, _, ident = key.partition(":")
        if kind == "u" and ident.isascii() and ident.isdigit():
            return cls(user_id=int(ident))
        if kind == "v":
            return cls(visitor_id=uuid.UUID(ident))
        raise ValueError(f"{key!r} is not an owner: write u:<user id> or v:<visitor uuid>")

    @property
    def key(self) -> str:
        return owner_key(user_id=self.user_id, visitor_id=self.visitor_id)

    @property
    def is_anonymous(self) -> bool:
        return not self.user_id


def owner_key(*, user_id: int | None, visitor_id: uuid.UUID | str | None) -> str:
    """The key of an event's owner, for code that holds the two ids (hot paths keep text keys)."""
    return f"u:{user_id}" if user_id else f"v:{visitor_id}"


def owner_key_expression():
    """owner_key in SQL, for queries that group or filter the event table by owner (Postgres
    writes a uuid as text the way str() does)."""
    return Case(
        When(user_id__isnull=False, then=Concat(Value("u:"), Cast("user_id", CharField()))),
        default=Concat(Value("v:"), Cast("visitor_id", CharField())),
        output_field=CharField(),
    )
