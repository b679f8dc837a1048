"""Seed the demo's rules, content blocks, offers and coupons (after seed_demo)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from merchandising.demo import merchandising_seed_demo


class Command(BaseCommand):
    help = "Create the demo's merchandising: a welcome coupon, banners, a category week and the ten-minute offer."

    def handle(self, *args, **options):
        try:
            result = merchandising_seed_demo()
        except DatabaseError as exc:
            raise CommandError(f"Seeding the demo's merchandising failed: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Merchandising: {result.rules} rules, {result.blocks} content blocks, {result.coupons} coupons."
            )
        )
