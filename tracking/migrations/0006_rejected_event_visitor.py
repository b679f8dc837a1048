"""Rejected events keep their visitor id (for export and erasure), and old payloads are masked."""

import re

from django.db import migrations, models


# Frozen here, as the masking stood when this migration was written: a migration must not
# change meaning when tracking.validation does.
EMAIL = r"[\w.+-]+@[\w-]+\.[\w.-]+"
PHONE = r"\+?\(?\d(?:[\s().-]*\d){6,}"
PII_TEXT = re.compile(f"{EMAIL}|{PHONE}")
PII_KEYS = ("email", "e-mail", "phone", "telephone", "mobile", "name", "first_name", "last_name", "address", "password")
# The value of a personal key in the JSON text (which may be cut short, so no parser).
PII_VALUE = re.compile(r'("(?:%s)"\s*:\s*)"(?:[^"\\]|\\.)*"?' % "|".join(re.escape(key) for key in PII_KEYS), re.I)
REDACTED = "[redacted]"


def _scrub(text: str) -> str:
    return PII_TEXT.sub(REDACTED, PII_VALUE.sub(lambda match: f'{match.group(1)}"{REDACTED}"', text))


def mask_kept_payloads(apps, schema_editor):
    # Rows from before masking hold raw personal data; their JSON may be cut short, so the text
    # itself is masked (a long number may be masked with them, which costs nothing here).
    RejectedEvent = apps.get_model("tracking", "RejectedEvent")
    rows = RejectedEvent.objects.only("pk", "payload", "detail", "name")
    for chunk_start in range(0, rows.count(), 2000):
        chunk = list(rows.order_by("pk")[chunk_start : chunk_start + 2000])
        for row in chunk:
            row.payload, row.detail, row.name = (_scrub(row.payload), _scrub(row.detail)[:300], _scrub(row.name)[:64])
        RejectedEvent.objects.bulk_update(chunk, ["payload", "detail", "name"])


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0005_partial_user_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="rejectedevent",
            name="visitor_id",
            field=models.UUIDField(blank=True, db_index=True, null=True),
        ),
        migrations.RunPython(mask_kept_payloads, migrations.RunPython.noop),
    ]
