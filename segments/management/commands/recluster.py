"""Cluster the record's shoppers again and make each cluster a segment (segments/clustering.py)."""

from django.core.management.base import BaseCommand, CommandError

from ...clustering import ClusteringError, clusters_recluster
from ...clusters import KS
from ...models import Clustering


class Command(BaseCommand):
    help = "Cluster the shoppers by behaviour; each cluster becomes a segment, entries and exits recorded."

    def add_arguments(self, parser):
        parser.add_argument("--method", choices=Clustering.Method.values, default=Clustering.Method.KMEANS)
        parser.add_argument(
            "--k",
            type=int,
            default=None,
            help=f"Clusters to make ({KS.start}-{KS.stop - 1}); chosen by silhouette if unsaid.",
        )

    def handle(self, *args, method, k, **options):
        try:
            result = clusters_recluster(
                method=method, k=k, progress=lambda message: self.stderr.write(f"... {message}")
            )
        except ClusteringError as error:
            raise CommandError(str(error)) from error
        run = result.clustering
        self.stdout.write(
            f"{run.get_method_display()}: {run.k} clusters of {run.owners} shoppers, silhouette {run.silhouette:.3f}, "
            f"{run.seconds:.1f} s; {result.entered} entered, {result.exited} left"
        )
        for cluster in run.clusters:
            self.stdout.write(f"  {cluster['segment']}: {cluster['name']} ({cluster['size']})")
