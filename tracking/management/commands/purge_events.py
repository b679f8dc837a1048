"""Retention: delete events older than the retention period."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tracking.services import events_purge


class Command(BaseCommand):
    help = "Delete events (dropping whole month partitions where it can) older than --days."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=settings.TRACKING_RETENTION_DAYS)
        parser.add_argument(
            "--rejected-days",
            type=int,
            default=settings.TRACKING_REJECTED_RETENTION_DAYS,
            help="Days rejected events are kept (they hold raw, if masked, payloads).",
        )

    def handle(self, *args, days: int, rejected_days: int, **options):
        if days < 1 or rejected_days < 1:
            raise CommandError("--days and --rejected-days must be at least 1.")
        result = events_purge(older_than_days=days, rejected_older_than_days=rejected_days)
        self.stdout.write(
            self.style.SUCCESS(
                f"Dropped {len(result['partitions_dropped'])} partitions and deleted {result['events_deleted']} events"
                f" older than {days} days, and {result['rejected_deleted']} rejected events older than"
                f" {rejected_days} days."
            )
        )
