"""Membership rows keep no foreign-key constraint to their segment: its check cost a quarter of each live insert."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0004_membership_owner_segment_index"),
    ]

    operations = [
        migrations.AlterField(
            model_name="membership",
            name="segment",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="memberships",
                to="segments.segment",
            ),
        ),
    ]
