"""Tracking admin: the read-only event record, funnels with their report, data quality and volume alerts."""

import contextlib
import json
import uuid
from datetime import timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import models
from django.db.models import Count, Q
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html

from shop.charts import CHART_MEDIA, CHART_SCRIPTS, bar_chart, time_series_chart

from .analytics import funnels, quality, volume
from .analytics.dates import date_range_parse, duration_text, percent_text
from .models import Event, Funnel, FunnelStep, IngestStat, RejectedEvent, VisitorLink, VolumeAlert
from .registry import EventName
from .services import COLUMNS

# Counting stops here: COUNT(*) over millions of partitioned rows is a full scan, while
# counting the first 10,001 rows of the page's own query took under 0.1 s on 1.15 million events.
COUNT_CAP = 10_000
# Hourly points in a volume chart: a week is 168 points, readable at 720 px.
VOLUME_CHART_DAYS = 7
# Charts drawn on the data quality page when no event is asked for: the ones with most alerts.
VOLUME_CHARTS_DEFAULT = 3
# Hours either side of an alert drawn on its change page.
ALERT_CONTEXT = timedelta(days=2)


class CappedCountPaginator(Paginator):
    """A paginator that counts at most COUNT_CAP + 1 rows; pages past the cap are not offered."""

    cap = COUNT_CAP

    @cached_property
    def count(self) -> int:
        return self.object_list[: COUNT_CAP + 1].count()


def _uuid_or_none(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        return None


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records nobody edits by hand: the event record is append-only."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("name", "source", "occurred_at", "visitor", "user_id", "product_id")
    list_filter = ("name", "source")
    # Counts per filter choice would each scan the table.
    show_facets = admin.ShowFacets.NEVER
    date_hierarchy = "occurred_at"
    search_fields = ("visitor_id", "event_id")
    search_help_text = "A visitor id or an event id: the whole UUID."
    # Newest first by id: the per-partition primary key indexes serve it without sorting the table.
    ordering = ("-id",)
    sortable_by = ()
    show_full_result_count = False
    paginator = CappedCountPaginator
    list_per_page = 100
    fields = COLUMNS
    readonly_fields = fields

    @admin.display(description="visitor")
    def visitor(self, obj: Event) -> str:
        return format_html('<code class="visitor-id">{}</code>', obj.visitor_id)

    def get_search_results(self, request, queryset, search_term):
        """Exact UUID matches only: the default icontains would cast every row's UUID to text."""
        if not search_term.strip():
            return queryset, False
        value = _uuid_or_none(search_term)
        if value is None:
            return queryset.none(), False
        return queryset.filter(Q(visitor_id=value) | Q(event_id=value)), False


@admin.register(VisitorLink)
class VisitorLinkAdmin(ReadOnlyAdmin):
    list_display = ("visitor_id", "user", "linked_at")
    list_select_related = ("user",)
    search_fields = ("user__username", "user__email")
    search_help_text = "A visitor id (the whole UUID), a username or an email."
    date_hierarchy = "linked_at"

    def get_search_results(self, request, queryset, search_term):
        value = _uuid_or_none(search_term)
        if value is not None:
            return queryset.filter(visitor_id=value), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(RejectedEvent)
class RejectedEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "reason", "name", "source", "detail")
    list_filter = ("reason", "source", "name")
    search_fields = ("reason", "name", "detail")
    date_hierarchy = "received_at"
    show_facets = admin.ShowFacets.NEVER
    show_full_result_count = False
    paginator = CappedCountPaginator
    fields = ("received_at", "reason", "detail", "source", "name", "visitor_id", "payload_shown")
    readonly_fields = fields

    @admin.display(description="payload")
    def payload_shown(self, obj: RejectedEvent) -> str:
        """The raw event as sent (personal data masked), pretty-printed when it is JSON, and always
        escaped: it is hostile input."""
        text = obj.payload
        # Cut at 2,000 characters (or nested a thousand deep) it is no longer JSON: shown as is.
        with contextlib.suppress(ValueError, RecursionError):
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        return format_html('<pre class="payload">{}</pre>', text)

    def get_urls(self):
        return [
            path(
                "quality/",
                self.admin_site.admin_view(self.quality_view),
                name="tracking_quality_report",
            ),
            *super().get_urls(),
        ]

    def quality_view(self, request: HttpRequest) -> HttpResponse:
        """The data quality report: rejections, ingest counters, clock skew and volume anomalies."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        period, problems = date_range_parse(request.GET)
        for problem in problems:
            messages.error(request, problem)
        start, end = period.start, period.end
        changelist = reverse("admin:tracking_rejectedevent_changelist")
        reasons = quality.rejected_by_reason(start=start, end=end)
        reason_rows = [
            {
                "reason": reason,
                "count": count,
                "url": changelist
                + "?"
                + urlencode(
                    {"reason": reason, "received_at__gte": start.isoformat(), "received_at__lt": end.isoformat()}
                ),
            }
            for reason, count in reasons
        ]
        skew = quality.clock_skew_report(start=start, end=end)
        ingest = quality.ingest_daily(start=start, end=end)
        totals = _ingest_totals(ingest)
        alerts = VolumeAlert.objects.filter(hour__gte=start, hour__lt=end)
        context = {
            **self.admin_site.each_context(request),
            "media": CHART_MEDIA,
            "opts": self.model._meta,
            "title": "Data quality",
            "period": period,
            "rejected_total": sum(count for _, count in reasons),
            "rejected_chart": bar_chart(reasons, title="Rejected events by reason", table=False),
            "reason_rows": reason_rows,
            "ingest_days": ingest,
            "ingest_totals": totals,
            "duplicate_share": percent_text(totals["duplicate_share"] if totals else None),
            "skew_share": percent_text(skew.share),
            "skew": skew,
            "skew_median": duration_text(skew.median),
            "skew_p95": duration_text(skew.p95),
            "skew_largest": duration_text(skew.largest),
            "skew_chart": bar_chart(
                [("under 2 s (left as sent)", skew.events - skew.corrected), *skew.buckets],
                title="Events by size of clock correction",
            ),
            "alert_counts": dict(alerts.values_list("kind").order_by().annotate(count=Count("id"))),
            "recent_alerts": alerts.order_by("-hour", "name")[:20],
            "volume_charts": self._volume_charts(request, alerts=alerts, end=end),
            "event_names": EventName.choices,
            "chosen_names": [name for name in request.GET.getlist("name") if name in EventName.values],
        }
        return TemplateResponse(request, "admin/tracking/quality_report.html", context)

    def _volume_charts(self, request: HttpRequest, *, alerts, end) -> list:
        names = [name for name in request.GET.getlist("name") if name in EventName.values]
        if not names:
            busiest = alerts.values_list("name").order_by().annotate(count=Count("id")).order_by("-count", "name")
            names = [name for name, _ in busiest[:VOLUME_CHARTS_DEFAULT]]
        # Up to the last complete hour: the hour under way would look like a drop.
        end = min(end, quality.hour_floor(timezone.now()))
        start = end - timedelta(days=VOLUME_CHART_DAYS)
        charts = []
        for name in names:
            points, expected = volume.volume_series(name=name, start=start, end=end)
            flagged = {
                alert.hour: f"{alert.get_kind_display()}: expected {alert.expected:,.0f}"
                for alert in VolumeAlert.objects.filter(name=name, hour__gte=start, hour__lt=end)
            }
            charts.append(
                time_series_chart(
                    points,
                    title=f"{EventName(name).label}: events per hour, last {VOLUME_CHART_DAYS} days",
                    flagged=flagged,
                    expected=expected,
                )
            )
        return charts


def _ingest_totals(days: list[dict]) -> dict | None:
    if not days:
        return None
    totals = {key: sum(day[key] for day in days) for key in ("received", "accepted", "duplicates", "rejected")}
    received = totals["received"]
    totals["duplicate_share"] = totals["duplicates"] / received if received else None
    totals["rejected_share"] = totals["rejected"] / received if received else None
    return totals


class FunnelStepFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        positions = [
            form.cleaned_data.get("position")
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        if len(positions) != len(set(positions)):
            raise ValidationError("Two steps share a position; give each step its own number.")


class FunnelStepInline(admin.TabularInline):
    model = FunnelStep
    formset = FunnelStepFormSet
    extra = 0
    fields = ("position", "event_name", "product_id", "category_id", "property_key", "property_value")
    ordering = ("position", "id")
    # Narrow inputs, so the six columns fit beside the admin's sidebar.
    formfield_overrides = {
        models.CharField: {"widget": forms.TextInput(attrs={"size": 14})},
        models.BigIntegerField: {"widget": forms.NumberInput(attrs={"style": "width: 7em"})},
        models.PositiveSmallIntegerField: {"widget": forms.NumberInput(attrs={"style": "width: 4em"})},
    }


@admin.register(Funnel)
class FunnelAdmin(admin.ModelAdmin):
    list_display = ("name", "window_text", "step_count", "is_active", "report_link")
    list_filter = ("is_active",)
    search_fields = ("name", "description")
    fields = ("name", "description", "window", "is_active")
    inlines = [FunnelStepInline]
    change_form_template = "admin/tracking/funnel/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(step_count=Count("steps"))

    @admin.display(description="window", ordering="window")
    def window_text(self, obj: Funnel) -> str:
        return duration_text(obj.window)

    @admin.display(description="steps", ordering="step_count")
    def step_count(self, obj: Funnel) -> int:
        return obj.step_count

    @admin.display(description="report")
    def report_link(self, obj: Funnel) -> str:
        return format_html('<a href="{}">Conversion report</a>', reverse("admin:tracking_funnel_report", args=[obj.pk]))

    def get_urls(self):
        return [
            path(
                "<path:object_id>/report/",
                self.admin_site.admin_view(self.report_view),
                name="tracking_funnel_report",
            ),
            *super().get_urls(),
        ]

    def report_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Conversion per step over a date range, with micro-conversions per day beside it."""
        funnel = self.get_object(request, unquote(object_id))
        if funnel is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_permission(request, funnel):
            raise PermissionDenied
        period, problems = date_range_parse(request.GET)
        for problem in problems:
            messages.error(request, problem)
        report = funnels.funnel_report(funnel=funnel, start=period.start, end=period.end)
        micro = funnels.micro_conversions_daily(start=period.start, end=period.end)
        micro_labels = [_micro_label(name) for name in micro.columns]
        context = {
            **self.admin_site.each_context(request),
            "media": CHART_MEDIA,
            "opts": self.opts,
            "original": funnel,
            "title": f"{funnel.name}: conversion",
            "period": period,
            "report": report,
            "window": duration_text(funnel.window),
            "overall": percent_text(report.overall),
            "steps": [
                {
                    "step": step,
                    "from_previous": percent_text(step.from_previous),
                    "from_first": percent_text(step.from_first),
                    "median": duration_text(step.median_from_previous),
                }
                for step in report.steps
            ],
            "funnel_chart": bar_chart(
                [(f"{step.position}. {step.label}", step.entrants) for step in report.steps],
                title=f"{funnel.name}: shoppers reaching each step",
                table=False,
            ),
            "micro_chart": bar_chart(
                list(zip(micro_labels, (int(micro[name].sum()) for name in micro.columns), strict=True)),
                title="Micro-conversions in the period",
                table=False,
            ),
            "micro_labels": micro_labels,
            "micro_rows": [(day, list(values)) for day, values in zip(micro.index, micro.to_numpy(), strict=True)],
            "micro_totals": [int(micro[name].sum()) for name in micro.columns],
        }
        return TemplateResponse(request, "admin/tracking/funnel_report.html", context)


def _micro_label(name: str) -> str:
    if name == EventName.SCROLL:
        return f"Scroll past {funnels.DEEP_SCROLL_PERCENT} %"
    return EventName(name).label


@admin.register(VolumeAlert)
class VolumeAlertAdmin(admin.ModelAdmin):
    list_display = ("hour", "name", "kind", "observed", "expected", "score", "acknowledged")
    list_filter = ("kind", "acknowledged", "name")
    date_hierarchy = "hour"
    search_fields = ("name",)
    actions = ["acknowledge"]
    fields = ("hour", "name", "kind", "observed", "expected", "score", "created_at", "chart", "acknowledged")

    class Media:
        js = CHART_SCRIPTS

    readonly_fields = ("hour", "name", "kind", "observed", "expected", "score", "created_at", "chart")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # alerts come from the hourly volume check

    @admin.action(description="Acknowledge selected alerts")
    def acknowledge(self, request: HttpRequest, queryset) -> None:
        updated = queryset.filter(acknowledged=False).update(acknowledged=True)
        self.message_user(request, f"{updated} alert(s) acknowledged.", messages.SUCCESS)

    @admin.display(description="volume around the alert")
    def chart(self, obj: VolumeAlert) -> str:
        if obj.pk is None:
            return "–"
        start, end = obj.hour - ALERT_CONTEXT, min(obj.hour + ALERT_CONTEXT, quality.hour_floor(timezone.now()))
        points, expected = volume.volume_series(name=obj.name, start=start, end=end)
        flagged = {
            alert.hour: f"{alert.get_kind_display()}: expected {alert.expected:,.0f}"
            for alert in VolumeAlert.objects.filter(name=obj.name, hour__gte=start, hour__lt=end)
        }
        return time_series_chart(
            points, title=f"{obj.get_name_display()}: events per hour", flagged=flagged, expected=expected
        )


@admin.register(IngestStat)
class IngestStatAdmin(ReadOnlyAdmin):
    list_display = ("hour", "source", "received", "accepted", "duplicates", "rejected")
    list_filter = ("source",)
    date_hierarchy = "hour"
