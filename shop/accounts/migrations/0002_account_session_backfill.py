"""Record the accounts of the sessions that were live before AccountSession existed."""

from django.contrib.auth import SESSION_KEY
from django.db import migrations
from django.utils import timezone

BATCH = 2000


def backfill(apps, schema_editor):
    from django.contrib.sessions.backends.db import SessionStore

    Session = apps.get_model("sessions", "Session")
    User = apps.get_model("auth", "User")
    AccountSession = apps.get_model("accounts", "AccountSession")
    decoder = SessionStore()
    pending = []
    live = Session.objects.filter(expire_date__gt=timezone.now()).values_list("session_key", "session_data")
    for key, data in live.iterator(chunk_size=BATCH):
        user_id = decoder.decode(data).get(SESSION_KEY)
        if user_id is not None:
            pending.append((key, int(user_id)))
    existing = set(User.objects.filter(pk__in={user_id for _, user_id in pending}).values_list("pk", flat=True))
    AccountSession.objects.bulk_create(
        [AccountSession(session_key=key, user_id=user_id) for key, user_id in pending if user_id in existing],
        batch_size=BATCH,
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_account_session"),
        ("sessions", "0001_initial"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
