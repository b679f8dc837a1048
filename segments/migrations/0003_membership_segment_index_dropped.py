"""Membership rows lose the segment's own index: membership_entered (segment, entered_at) serves those lookups."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0002_clusterings"),
    ]

    operations = [
        migrations.AlterField(
            model_name="membership",
            name="segment",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="memberships",
                to="segments.segment",
            ),
        ),
    ]
