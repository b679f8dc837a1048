"""Retention: delete events older than the retention period."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tracking.services import events_purge


class Command(BaseCommand):
    help = "Delete events (dropping whole month partitions where it can) older than --days."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=settings.TRACKING_RETENTION_DAYS)

    def handle(self, *args, days: int, **options):
        if days < 1:
            raise CommandError("--days must be at least 1.")
        result = events_purge(older_than_days=days)
        self.stdout.write(
            self.style.SUCCESS(
                f"Dropped {len(result['partitions_dropped'])} partitions, deleted {result['events_deleted']} events"
                f" and {result['rejected_deleted']} rejected events older than {days} days."
            )
        )
