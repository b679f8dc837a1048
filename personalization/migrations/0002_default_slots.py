"""The five storefront slots with sensible starting settings; merchandisers tune them in admin."""

from django.db import migrations

DEFAULTS = [
    ("home_recommended", "Recommended for you", "hybrid", 8, 0.3, 0.1),
    ("home_trending", "Trending now", "trending", 8, 0.3, 0.0),
    ("product_also_bought", "Customers also bought", "itemknn", 8, 0.2, 0.1),
    ("product_similar", "Similar items", "content", 8, 0.0, 0.0),
    ("cart_complete", "Complete your order", "itemknn", 4, 0.3, 0.0),
]


def create(apps, schema_editor):
    SlotConfig = apps.get_model("personalization", "SlotConfig")
    for slot, title, algorithm, size, diversity, epsilon in DEFAULTS:
        SlotConfig.objects.get_or_create(
            slot=slot,
            defaults={"title": title, "algorithm": algorithm, "size": size, "diversity": diversity, "epsilon": epsilon},
        )


class Migration(migrations.Migration):
    dependencies = [("personalization", "0001_initial")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
