"""Account services beyond Django's own: ending every session of an account, and password reset mail."""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from shop.keyspace import session_cache_keys

from .models import AccountSession

logger = logging.getLogger(__name__)

RESET_SUBJECT_TEMPLATE = "accounts/email/password_reset_subject.txt"
RESET_BODY_TEMPLATE = "accounts/email/password_reset.txt"


@transaction.atomic
def account_sessions_end(*, user: AbstractBaseUser) -> list[str]:
    """Delete the account's sessions from the database, on every device; returns the Redis keys
    their cached copies live under, for the caller to delete once this commits (the sessions are
    cached_db, and a cached copy would still be read)."""
    keys = list(AccountSession.objects.filter(user=user).values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=keys).delete()
    AccountSession.objects.filter(user=user).delete()
    return session_cache_keys(keys)


def password_reset_request(*, email: str, domain: str, use_https: bool) -> int:
    """Ask a worker to mail a reset link to each active account with this e-mail; returns how many.

    The mail is rendered and sent by the worker, not here: the answer to the shopper takes as
    long whether or not an account exists, so its timing cannot tell which e-mails have one. When
    the broker cannot take the request that is logged and the shopper, told a mail is on its way,
    asks again; a reset link is worth nothing an hour later, so there is no outbox to keep.
    """
    users = list(PasswordResetForm().get_users(email))
    for user in users:
        transaction.on_commit(
            lambda user_id=user.pk: _worker_ask(user_id=user_id, domain=domain, use_https=use_https), robust=True
        )
    return len(users)


def _worker_ask(*, user_id: int, domain: str, use_https: bool) -> None:
    from .tasks import password_reset_mail_send  # the task module imports this one

    password_reset_mail_send.apply_async(
        kwargs={"user_id": user_id, "domain": domain, "use_https": use_https}, retry=False
    )


def password_reset_mail_send(*, user_id: int, domain: str, use_https: bool) -> bool:
    """Mail the account a link that sets a new password (Django's token: it stops working once
    the password changes, or after PASSWORD_RESET_TIMEOUT); False when the account is gone or
    can no longer reset."""
    user = get_user_model()._default_manager.filter(pk=user_id, is_active=True).first()
    if user is None or not user.has_usable_password() or not user.email:
        return False
    context = {
        "email": user.email,
        "domain": domain,
        "site_name": settings.SHOP_NAME,
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "user": user,
        "token": default_token_generator.make_token(user),
        "protocol": "https" if use_https else "http",
        "valid_hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
    }
    PasswordResetForm().send_mail(
        RESET_SUBJECT_TEMPLATE, RESET_BODY_TEMPLATE, context, settings.DEFAULT_FROM_EMAIL, user.email
    )
    return True
