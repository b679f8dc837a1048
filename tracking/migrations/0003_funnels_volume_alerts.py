"""Funnels with their steps, volume alerts and hourly ingest counters; seeds the "Browse to buy" funnel."""

import datetime
import django.db.models.deletion
from django.db import migrations, models


DEFAULT_FUNNEL = "Browse to buy"
DEFAULT_STEPS = ("view_item", "add_to_cart", "begin_checkout", "purchase")


def default_funnel(apps, schema_editor):
    """The funnel every shop asks about first; left alone if a merchandiser already made one of that name."""
    Funnel = apps.get_model("tracking", "Funnel")
    FunnelStep = apps.get_model("tracking", "FunnelStep")
    funnel, created = Funnel.objects.get_or_create(
        name=DEFAULT_FUNNEL,
        defaults={
            "window": datetime.timedelta(days=1),
            "description": "Shoppers who viewed a product, then added to cart, began checkout and bought within a day.",
        },
    )
    if created:
        FunnelStep.objects.bulk_create(
            FunnelStep(funnel=funnel, position=position, event_name=name)
            for position, name in enumerate(DEFAULT_STEPS, start=1)
        )


class Migration(migrations.Migration):

    dependencies = [
        ('tracking', '0002_partition_events'),
    ]

    operations = [
        migrations.CreateModel(
            name='Funnel',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100, unique=True)),
                ('description', models.TextField(blank=True)),
                ('window', models.DurationField(default=datetime.timedelta(days=1), help_text='How long after the first step every later step must happen: 00:30:00 is 30 minutes, 1 00:00:00 is a day.')),
                ('is_active', models.BooleanField(default=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['name'],
            },
        ),
        migrations.CreateModel(
            name='FunnelStep',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField(default=1)),
                ('event_name', models.CharField(choices=[('page_view', 'Page view'), ('view_item_list', 'Item list viewed'), ('view_item', 'Product viewed'), ('select_item', 'Item selected'), ('impression', 'Product impression'), ('click', 'Click'), ('scroll', 'Scroll depth'), ('search', 'Search'), ('add_to_cart', 'Added to cart'), ('remove_from_cart', 'Removed from cart'), ('view_cart', 'Cart viewed'), ('begin_checkout', 'Checkout begun'), ('purchase', 'Purchase'), ('add_to_wishlist', 'Added to wishlist'), ('video_play', 'Video played'), ('micro_conversion', 'Micro-conversion'), ('login', 'Login'), ('sign_up', 'Sign-up')], max_length=32)),
                ('product_id', models.BigIntegerField(blank=True, help_text='Only events about this product.', null=True)),
                ('category_id', models.BigIntegerField(blank=True, help_text='Only events about this category.', null=True)),
                ('property_key', models.CharField(blank=True, help_text='Only events whose property has the value below, e.g. page_type.', max_length=40)),
                ('property_value', models.CharField(blank=True, help_text='e.g. product', max_length=200)),
                ('funnel', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='steps', to='tracking.funnel')),
            ],
            options={
                'ordering': ['funnel', 'position', 'id'],
            },
        ),
        migrations.CreateModel(
            name='IngestStat',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('hour', models.DateTimeField()),
                ('source', models.CharField(choices=[('web', 'Browser tracker'), ('server', 'Server'), ('import', 'Import')], max_length=8)),
                ('accepted', models.PositiveIntegerField(default=0)),
                ('duplicates', models.PositiveIntegerField(default=0)),
                ('rejected', models.PositiveIntegerField(default=0)),
            ],
            options={
                'ordering': ['-hour', 'source'],
                'constraints': [models.UniqueConstraint(fields=('hour', 'source'), name='ingest_stat_once')],
            },
        ),
        migrations.CreateModel(
            name='VolumeAlert',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('hour', models.DateTimeField(help_text='Start of the hour (UTC) that was checked.')),
                ('name', models.CharField(choices=[('page_view', 'Page view'), ('view_item_list', 'Item list viewed'), ('view_item', 'Product viewed'), ('select_item', 'Item selected'), ('impression', 'Product impression'), ('click', 'Click'), ('scroll', 'Scroll depth'), ('search', 'Search'), ('add_to_cart', 'Added to cart'), ('remove_from_cart', 'Removed from cart'), ('view_cart', 'Cart viewed'), ('begin_checkout', 'Checkout begun'), ('purchase', 'Purchase'), ('add_to_wishlist', 'Added to wishlist'), ('video_play', 'Video played'), ('micro_conversion', 'Micro-conversion'), ('login', 'Login'), ('sign_up', 'Sign-up')], max_length=32)),
                ('kind', models.CharField(choices=[('drop', 'Drop'), ('spike', 'Spike')], max_length=8)),
                ('observed', models.PositiveIntegerField()),
                ('expected', models.FloatField(help_text='Median of the same hour over the previous seven days.')),
                ('score', models.FloatField(help_text='How many robust standard deviations the hour is from expected.')),
                ('acknowledged', models.BooleanField(default=False)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['-hour', 'name'],
                'constraints': [models.UniqueConstraint(fields=('hour', 'name'), name='volume_alert_once')],
            },
        ),
        migrations.RunPython(default_funnel, migrations.RunPython.noop),
    ]
