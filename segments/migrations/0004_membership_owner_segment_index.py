"""Membership rows are indexed by (owner, segment) instead of owner alone: the drain's look-up of a held stay."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0003_membership_segment_index_dropped"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="membership",
            index=models.Index(fields=["owner", "segment"], name="membership_owner_segment"),
        ),
        migrations.RemoveIndex(
            model_name="membership",
            name="membership_owner",
        ),
    ]
