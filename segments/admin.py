"""Segments admin: definitions validated on save, a preview before saving, size over time, CSV of
members; the clustering runs with what each cluster's shoppers do; the cohorts report (retention
and conversion heatmaps by first week or month, or by the first visit's source or campaign)."""

import csv
import logging

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from shop.charts import CHART_MEDIA, CHART_SCRIPTS, bar_chart, heatmap_chart, time_series_chart
from tracking.analytics.dates import run_time_text

from .clusters import WORDS
from .cohorts import METRICS, PERIODS, RECORD, cohort_csv, cohort_events, cohort_matrix
from .conditions import ConditionError, definition_parse
from .models import Clustering, Segment
from .services import segment_members, segment_preview, segment_sizes
from .tasks import segments_sweep

logger = logging.getLogger(__name__)
PREVIEW_SAMPLE = 10


# Periods since first activity drawn in the heatmap (the CSV has them all): a year of months, half of weeks.
COHORT_COLUMNS = {"month": 12, "week": 26}
GROUP_LABELS = {"first": "First activity", "source": "Source of first visit", "campaign": "Campaign of first visit"}


class CohortForm(forms.Form):
    period = forms.ChoiceField(choices=[(period, period.capitalize()) for period in PERIODS], initial="month")
    metric = forms.ChoiceField(choices=[(metric, metric.capitalize()) for metric in METRICS], initial="retention")
    by = forms.ChoiceField(choices=list(GROUP_LABELS.items()), initial="first", label="Cohorts by")

    @classmethod
    def read(cls, query) -> "CohortForm":
        """The form of the query, each absent field at its default (a bare link shows the monthly retention)."""
        data = {name: query.get(name, field.initial) for name, field in cls.base_fields.items()}
        return cls(data)


class _Echo:
    def write(self, value):
        return value


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "kind", "is_active", "last_evaluated_at", "last_corrections", "error")
    list_filter = ("is_active", ("cluster", admin.EmptyFieldListFilter))
    search_fields = ("name", "slug")
    readonly_fields = ("last_evaluated_at", "last_error", "last_corrections", "created_at", "updated_at", "members")
    change_form_template = "admin/segments/segment/change_form.html"

    class Media:
        js = CHART_SCRIPTS

    def get_readonly_fields(self, request, obj=None):
        # Pages and stages name a segment by its slug; renaming it would orphan its members in Redis.
        if obj and obj.is_cluster:
            # A cluster's members come from the clustering: it has no definition to edit.
            return (*self.readonly_fields, "slug", "definition", "clustering_link")
        return (*self.readonly_fields, "slug") if obj else self.readonly_fields

    @admin.display(description="Kind")
    def kind(self, obj):
        return "cluster" if obj.is_cluster else "conditions"

    @admin.display(description="Clustering")
    def clustering_link(self, obj):
        if obj.clustering_id is None:
            return "–"
        url = reverse("admin:segments_clustering_change", args=[obj.clustering_id])
        return format_html('<a href="{}">{}</a>, cluster {}', url, obj.clustering, obj.cluster)

    @admin.display(description="Error")
    def error(self, obj):
        return obj.last_error[:80] or "–"

    @admin.display(description="Members")
    def members(self, obj):
        if not obj.pk:
            return "–"
        count = obj.memberships.filter(exited_at__isnull=True).count()
        url = reverse("admin:segments_segment_members", args=[obj.pk])
        return format_html('{} — <a href="{}">download CSV</a>', count, url)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        transaction.on_commit(lambda: self._backfill(request))

    def _backfill(self, request):
        """New or edited definitions are evaluated over the whole record, by a worker."""
        try:
            segments_sweep.delay()
        except Exception:
            logger.warning("segment backfill not queued", exc_info=True)
            messages.warning(request, "The backfill could not be queued; the hourly sweep will evaluate this segment.")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        segment = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if segment is not None:
            extra["size_chart"] = time_series_chart(
                segment_sizes(segment=segment),
                title=f"Members of {segment.name}, last 30 days",
                time_format="%d %b",
            )
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("preview/", view(self.preview_view), name="segments_segment_preview"),
            path("<int:pk>/members.csv", view(self.members_view), name="segments_segment_members"),
            path("cohorts/", view(self.cohorts_view), name="segments_cohorts"),
            path("cohorts.csv", view(self.cohorts_csv_view), name="segments_cohorts_csv"),
            *super().get_urls(),
        ]

    def preview_view(self, request):
        """How many owners the posted definition matches now, and some of them; saves nothing."""
        context = {**self.admin_site.each_context(request), "title": "Segment preview", "media": CHART_MEDIA}
        if request.method != "POST":
            return HttpResponse("Post a definition from the segment form.", status=405)
        form = self.get_form(request)(request.POST)
        raw = (
            form.fields["definition"].clean(request.POST.get("definition", "")) if "definition" in form.fields else None
        )
        try:
            definition = definition_parse(raw)
        except ConditionError as error:
            context["error"] = str(error)
            return TemplateResponse(request, "admin/segments/segment/preview.html", context, status=400)
        except ValidationError as error:
            context["error"] = "; ".join(error.messages)
            return TemplateResponse(request, "admin/segments/segment/preview.html", context, status=400)
        slug = request.POST.get("slug") or "preview"
        context["preview"] = segment_preview(slug=slug, definition=definition, sample=PREVIEW_SAMPLE)
        return TemplateResponse(request, "admin/segments/segment/preview.html", context)

    def cohorts_view(self, request):
        """Retention or conversion of the shop's cohorts as a heatmap, the numbers beside it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = CohortForm.read(request.GET)
        context = {
            **self.admin_site.each_context(request),
            "media": CHART_MEDIA,
            "opts": self.model._meta,
            "title": "Cohorts",
            "form": form,
        }
        if not form.is_valid():
            return TemplateResponse(request, "admin/segments/cohorts.html", context, status=400)
        choice = form.cleaned_data
        matrix = cohort_matrix(cohort_events(dataset=RECORD), **choice)
        if not matrix.empty:
            shown = [column for column in matrix.columns if column != "size"][: COHORT_COLUMNS[choice["period"]]]
            sizes = matrix["size"].astype(int)
            context["chart"] = heatmap_chart(
                [f"{cohort} ({size:,})" for cohort, size in sizes.items()],
                [str(column) for column in shown],
                matrix[shown].to_numpy().tolist(),
                title=f"{choice['metric'].capitalize()} by {GROUP_LABELS[choice['by']].lower()}, "
                f"{choice['period']}s since first activity",
                row_header=f"{GROUP_LABELS[choice['by']]} (shoppers)",
                column_header=f"{choice['period'].capitalize()}s since",
                max_value=1.0,
            )
            context["cohorts"] = len(matrix)
            context["csv_url"] = reverse("admin:segments_cohorts_csv") + "?" + request.GET.urlencode()
        return TemplateResponse(request, "admin/segments/cohorts.html", context)

    def cohorts_csv_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = CohortForm.read(request.GET)
        if not form.is_valid():
            reasons = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
            return HttpResponse(reasons, status=400, content_type="text/plain; charset=utf-8")
        choice = form.cleaned_data
        matrix = cohort_matrix(cohort_events(dataset=RECORD), **choice)
        response = HttpResponse(cohort_csv(matrix) if not matrix.empty else "cohort,size\n", content_type="text/csv")
        name = f"cohorts-{choice['metric']}-{choice['period']}-by-{choice['by']}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def members_view(self, request, pk):
        segment = get_object_or_404(Segment, pk=pk)
        writer = csv.writer(_Echo())
        rows = (writer.writerow(row) for row in [("owner", "entered_at")])
        body = (writer.writerow((owner, entered.isoformat())) for owner, entered in segment_members(segment=segment))
        response = StreamingHttpResponse(
            (line for part in (rows, body) for line in part), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="segment-{segment.slug}.csv"'
        return response


@admin.register(Clustering)
class ClusteringAdmin(admin.ModelAdmin):
    """Runs of `manage.py recluster`, newest first; read only, as model versions are."""

    list_display = ("created_at", "method", "k", "silhouette_shown", "owners", "duration")
    list_filter = ("method",)
    fields = ("method", "k", "silhouette_shown", "owners", "created_at", "duration", "summary")
    readonly_fields = fields
    change_form_template = "admin/segments/clustering/change_form.html"

    class Media:
        js = CHART_SCRIPTS

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Silhouette", ordering="silhouette")
    def silhouette_shown(self, obj):
        # Three places tell clusterings apart: the score runs from -1 to 1, and more digits are noise.
        return f"{obj.silhouette:.3f}"

    @admin.display(description="Took", ordering="seconds")
    def duration(self, obj):
        return run_time_text(obj.seconds)

    @admin.display(description="Clusters (average shopper of each)")
    def summary(self, obj):
        features = obj.features
        head = format_html_join("", "<th>{}</th>", ((WORDS.get(f, (f,))[0] + f" ({f})",) for f in features))
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td>{}</tr>",
            (
                (
                    cluster["segment"],
                    cluster["name"],
                    cluster["size"],
                    format_html_join("", "<td>{}</td>", ((f"{cluster['means'][f]:.2f}",) for f in features)),
                )
                for cluster in obj.clusters
            ),
        )
        return format_html(
            # Nineteen features outgrow the form's width: the table scrolls sideways in its own box.
            '<div class="table-scroll"><table><thead><tr><th>Segment</th><th>Name</th><th>Shoppers</th>{}</tr></thead>'
            "<tbody>{}</tbody></table></div>",
            head,
            rows,
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if run is not None:
            extra["size_chart"] = bar_chart(
                [(f"{cluster['name']} ({cluster['segment']})", cluster["size"]) for cluster in run.clusters],
                title=f"Shoppers per cluster, {run}",
            )
        return super().change_view(request, object_id, form_url, extra_context=extra)
