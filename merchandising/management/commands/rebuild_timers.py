"""Set again from the event record the absence timers Redis lost."""

from django.core.management.base import BaseCommand, CommandError
from redis.exceptions import RedisError

from merchandising.timers import timers_rebuild


class Command(BaseCommand):
    help = "Walk each event rule's window back from now in the record and set its pending timers again in Redis."

    def handle(self, *args, **options):
        try:
            restored = timers_rebuild()
        except RedisError as exc:
            raise CommandError(f"Redis is not reachable: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"{restored} timers set (those Redis still held were kept)."))
