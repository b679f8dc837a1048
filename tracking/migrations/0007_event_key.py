"""Event ids unique across all months: a key table beside the partitioned event table."""

from django.db import migrations, models

# Shoppers' events stored so far get their keys, so a retry of one of them is still seen as
# such; imported rows need none (their uuid5 ids never reach the collector).
BACKFILL = """
INSERT INTO tracking_eventkey (event_id, received_at)
SELECT event_id, MIN(received_at) FROM tracking_event WHERE source <> 'import' GROUP BY event_id
"""


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0006_rejected_event_visitor"),
    ]

    operations = [
        migrations.CreateModel(
            name="EventKey",
            fields=[
                ("event_id", models.UUIDField(primary_key=True, serialize=False)),
                ("received_at", models.DateTimeField(db_index=True)),
            ],
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
