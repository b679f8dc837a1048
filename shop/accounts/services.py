"""Account services beyond Django's own: ending every session of an account."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sessions.models import Session
from django.db import transaction

from shop.keyspace import session_cache_keys

from .models import AccountSession


@transaction.atomic
def account_sessions_end(*, user: AbstractBaseUser) -> list[str]:
    """Delete the account's sessions from the database, on every device; returns the Redis keys
    their cached copies live under, for the caller to delete once this commits (the sessions are
    cached_db, and a cached copy would still be read)."""
    keys = list(AccountSession.objects.filter(user=user).values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=keys).delete()
    AccountSession.objects.filter(user=user).delete()
    return session_cache_keys(keys)
