"""Print a cohort retention or conversion matrix of a dataset file or of the event record, by first
period or by the source or campaign of the first visit."""

from django.core.management.base import BaseCommand, CommandError

from tracking.importers import FORMATS

from ...cohorts import GROUPS, METRICS, PERIODS, RECORD, cohort_csv, cohort_events, cohort_matrix


class Command(BaseCommand):
    help = "Cohorts by first week or month: the share active (retention) or converted in each period since."

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, choices=[RECORD, *FORMATS], help="A dataset file, or record")
        parser.add_argument("--period", choices=list(PERIODS), default="month")
        parser.add_argument("--metric", choices=list(METRICS), default="retention")
        parser.add_argument(
            "--by", choices=list(GROUPS), default="first", help="Cohorts by first period, or by utm source or campaign."
        )
        parser.add_argument("--format", choices=["table", "csv"], default="table")
        parser.add_argument("--periods", type=int, default=12, help="Columns shown in a table.")

    def handle(self, *args, dataset, period, metric, by, format, periods, **options):
        try:
            matrix = cohort_matrix(cohort_events(dataset=dataset), period=period, metric=metric, by=by)
        except (OSError, ValueError) as error:
            raise CommandError(str(error)) from error
        if matrix.empty:
            raise CommandError("no events to make cohorts of")
        if format == "csv":
            self.stdout.write(cohort_csv(matrix), ending="")
            return
        shown = matrix[["size", *[column for column in matrix.columns if column != "size"][:periods]]]
        self.stdout.write(shown.to_string(float_format=lambda value: f"{value:.2f}", na_rep=""))
