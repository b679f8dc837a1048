"""Which Django sessions belong to which account, so an account's sessions can all be ended."""

from django.conf import settings
from django.db import models


class AccountSession(models.Model):
    """A session an account logged in with. Django's session table holds the user only inside
    its encoded data; finding one account's sessions there would mean decoding every session."""

    session_key = models.CharField(max_length=40, primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_sessions")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.session_key[:8]}…"
