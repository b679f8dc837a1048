"""Retrain the served recommenders (or one) from the event record, and switch serving to them."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from personalization.quality import quality_summary
from personalization.recommenders.registry import algorithms
from personalization.training import model_train, models_retire, training_set
from shop.progress import progress_bar


class Command(BaseCommand):
    help = "Train recommenders on recent events and serve the new versions (previous ones stay until then)."

    def add_arguments(self, parser):
        parser.add_argument("--model", action="append", dest="models", help="A model to train (repeatable).")

    def handle(self, *args, models: list[str] | None, **options):
        names = models or list(settings.RECOMMENDER_SERVED)
        unknown = sorted(set(names) - set(algorithms()))
        if unknown:
            raise CommandError(f"Unknown model(s) {', '.join(unknown)}; known: {', '.join(algorithms())}")
        training = training_set()
        data = training.data
        self.stdout.write(
            f"Training on {data.events_used} events of {data.n_users} people over {data.n_items} products."
        )
        with progress_bar(self, total=len(names), desc="Training", unit="model") as bar:
            for name in names:
                bar.set_postfix_str(name)
                version = model_train(name=name, training=training)
                bar.update(1)
                quality = quality_summary(version.quality)
                self.stdout.write(f"  {name}: version {version.pk} serving ({version.seconds:.2f} s); {quality}")
        models_retire(keep=3)
        self.stdout.write(self.style.SUCCESS(f"Trained and serving: {', '.join(names)}."))
