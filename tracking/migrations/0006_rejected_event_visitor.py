"""Rejected events keep their visitor id (for export and erasure), and old payloads are masked."""

from django.db import migrations, models


def mask_kept_payloads(apps, schema_editor):
    # Rows from before masking hold raw emails and phone numbers; their JSON may be cut short, so
    # the text itself is masked (a long number may be masked with them, which costs nothing here).
    from tracking.validation import scrub

    RejectedEvent = apps.get_model("tracking", "RejectedEvent")
    rows = RejectedEvent.objects.only("pk", "payload", "detail", "name")
    for chunk_start in range(0, rows.count(), 2000):
        chunk = list(rows.order_by("pk")[chunk_start : chunk_start + 2000])
        for row in chunk:
            row.payload, row.detail, row.name = (scrub(row.payload), scrub(row.detail)[:300], scrub(row.name)[:64])
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
