"""Seed a coherent, repeatable demo catalog with an admin and shopper accounts."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from shop.catalog.services import demo
from shop.progress import progress_bar


class Command(BaseCommand):
    help = "Create or refresh the demo catalog (deterministic per --seed), the admin and shopper1..K accounts."

    def add_arguments(self, parser):
        parser.add_argument("--products", type=int, default=demo.DEMO_PRODUCTS, help="How many products.")
        parser.add_argument("--seed", type=int, default=demo.DEMO_SEED, help="The same seed, the same catalog.")
        parser.add_argument("--shoppers", type=int, default=demo.DEMO_SHOPPERS, help="Shopper accounts.")

    def handle(self, *args, products: int, seed: int, shoppers: int, **options):
        if products < 0 or shoppers < 0:
            raise CommandError("--products and --shoppers must not be negative.")
        admin_password = settings.DEMO_ADMIN_PASSWORD
        started = time.monotonic()
        with progress_bar(self, total=products, desc="Seeding products") as bar:
            try:
                result = demo.catalog_seed_demo(
                    products=products,
                    seed=seed,
                    shoppers=shoppers,
                    admin_password=admin_password,
                    progress=lambda done, total: bar.update(done),
                )
            except (DatabaseError, ValueError) as exc:
                raise CommandError(f"Seeding the demo catalog failed: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo catalog (seed {seed}): {result.products} products ({result.products_created} new"
                f"{f', {result.products_deactivated} deactivated' if result.products_deactivated else ''}) "
                f"in {result.categories} categories of {result.departments} departments, {result.brands} brands; "
                f"{time.monotonic() - started:.1f} s."
            )
        )
        self.stdout.write(f"Admin login: {result.admin_username} / {admin_password}")
        if shoppers:
            self.stdout.write(f"Shopper logins: shopper1 .. shopper{shoppers} / {demo.DEMO_SHOPPER_PASSWORD}")
