"""Rebuild live Redis profiles from the event record in Postgres."""

from django.core.management.base import BaseCommand, CommandError
from redis.exceptions import RedisError

from personalization.profiles import profiles_rebuild
from shop.progress import progress_bar
from tracking.models import Event
from tracking.owners import Owner


class Command(BaseCommand):
    help = "Rebuild every live profile (or the named owners', e.g. u:42 v:<uuid>) from stored events."

    def add_arguments(self, parser):
        parser.add_argument("owners", nargs="*", help="Profile owners to rebuild; all when none are named.")

    def handle(self, *args, owners: list[str], **options):
        owner_set = set(owners) or None
        for owner in owner_set or ():
            try:
                Owner.parse(owner)
            except ValueError as error:
                raise CommandError(str(error)) from error
        total = None if owner_set else Event.objects.count()
        with progress_bar(self, total=total, desc="Rebuilding profiles", unit="event") as bar:
            try:
                result = profiles_rebuild(owners=owner_set, progress=bar.update)
            except RedisError as exc:
                raise CommandError(
                    f"Redis failed part-way; every profile is either as it was or rebuilt: {exc}"
                ) from exc
        for skipped in result.skipped:
            self.stdout.write(
                self.style.WARNING(f"Skipped event {skipped.event_id} of {skipped.owner}: {skipped.error}")
            )
        for owner in result.unchanged:
            self.stdout.write(self.style.WARNING(f"Left the profile of {owner} as it was: none of its events apply."))
        self.stdout.write(
            self.style.SUCCESS(f"Rebuilt {result.rebuilt} profiles, skipped {len(result.skipped)} events.")
        )
