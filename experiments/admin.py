"""Experiments in admin: set up as a draft, start (checked, then locked), stop or ship the winner."""

import csv

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from personalization.slots import SLOT_CHOICES
from shop.charts import CHART_MEDIA, bar_chart, interval_chart
from tracking.analytics.dates import date_range_parse

from .assignment import HOLDOUT, PERSONALIZED
from .impact import AttributionReport, HoldoutReport, attribution_report, holdout_report
from .models import Experiment, Metric, Variant
from .selectors import NO_DEVICE, PRE_PERIOD, bandit_report, experiment_report
from .services import experiment_problems, experiment_start, experiment_stop

LOCKED = (
    "slot", "layer", "traffic_start", "traffic_percent", "salt", "segments", "mode", "split_percent", "min_share",
    "primary_metric", "guardrails",
)  # fmt: skip


class VariantFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(self.errors) or self.instance.status != Experiment.Status.DRAFT:
            return
        variants = [
            form.save(commit=False) for form in self.forms if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        # Only the variants' own checks here; the experiment-wide ones when it starts.
        problems = [p for p in experiment_problems(experiment=self.instance, variants=variants) if "Variant" in p]
        if problems:
            raise ValidationError(problems)


class VariantInline(admin.TabularInline):
    model = Variant
    formset = VariantFormSet
    extra = 0
    fields = ("key", "is_control", "weight", "kind", "algorithm", "weights")

    def has_add_permission(self, request, obj=None):
        return obj is None or obj.status == Experiment.Status.DRAFT

    def has_change_permission(self, request, obj=None):
        return obj is None or obj.status == Experiment.Status.DRAFT

    def has_delete_permission(self, request, obj=None):
        return obj is None or obj.status == Experiment.Status.DRAFT


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = (
        "name", "slot", "mode", "layer", "traffic_start", "traffic_percent", "primary_metric", "status", "report",
    )  # fmt: skip
    list_filter = ("status", "mode", "layer", "slot")
    filter_horizontal = ("segments",)
    inlines = [VariantInline]
    actions = ["start", "stop"]
    fields = (
        "name", "hypothesis", *LOCKED, "status", "started_at", "stopped_at", "winner", "bandit_shares",
        "bandit_updated_at",
    )  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        fixed = ("status", "started_at", "stopped_at", "winner", "bandit_shares", "bandit_updated_at")
        # The design is fixed before the data come in: no metric chosen after seeing results.
        return (*LOCKED, *fixed) if obj is not None and obj.status != Experiment.Status.DRAFT else fixed

    @admin.action(description="Start the selected drafts")
    def start(self, request, queryset):
        for experiment in queryset:
            try:
                experiment_start(experiment=experiment)
            except ValidationError as error:
                self.message_user(request, f"{experiment}: {' '.join(error.messages)}", messages.ERROR)
            else:
                self.message_user(request, f"{experiment} is running.", messages.SUCCESS)

    @admin.action(description="Stop the selected experiments (no winner shipped)")
    def stop(self, request, queryset):
        for experiment in queryset:
            try:
                experiment_stop(experiment=experiment)
            except ValidationError as error:
                self.message_user(request, f"{experiment}: {' '.join(error.messages)}", messages.ERROR)
            else:
                self.message_user(request, f"{experiment} stopped.", messages.SUCCESS)

    @admin.display(description="Report")
    def report(self, obj: Experiment) -> str:
        return format_html('<a href="{}">Report</a>', reverse("admin:experiments_experiment_report", args=[obj.pk]))

    def get_urls(self):
        return [
            path("impact/", self.admin_site.admin_view(self.impact_view), name="experiments_experiment_impact"),
            path(
                "<int:pk>/report/", self.admin_site.admin_view(self.report_view), name="experiments_experiment_report"
            ),
            *super().get_urls(),
        ]

    def report_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Per variant metrics with sequential intervals, the SRM check as a blocking banner, CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        experiment = get_object_or_404(Experiment, pk=pk)
        report = experiment_report(experiment=experiment)
        if request.GET.get("format") == "csv":
            return _report_csv(report)
        labels = dict(Metric.choices)
        primary = [r for r in report.results if r.metric == experiment.primary_metric]
        bandit = bandit_report(experiment=experiment) if experiment.mode == Experiment.Mode.BANDIT else None
        context = {
            **self.admin_site.each_context(request),
            "media": CHART_MEDIA,
            "opts": self.model._meta,
            "original": experiment,
            "title": f"Report: {experiment.name}",
            "report": report,
            "pre_period_days": PRE_PERIOD.days,
            "no_device": NO_DEVICE,
            "rows": [{"result": r, "label": labels.get(r.metric, r.metric)} for r in report.results],
            "exposure_chart": bar_chart(list(report.counts.items()), title="Exposed visitors by variant"),
            "primary_chart": bar_chart(
                [("control", primary[0].control.mean)] + [(r.variant, r.treatment.mean) for r in primary]
                if primary
                else [],
                title=f"{labels[experiment.primary_metric]} by variant",
                value_format="{:,.4f}",
            ),
            "lift_charts": [
                interval_chart(
                    [(at, e.relative, e.relative_interval.low, e.relative_interval.high) for at, e in points if e],
                    title=f"Cumulative lift of {variant} over control: {labels[experiment.primary_metric]}",
                    description=f"Relative lift of {variant} with its 95% sequential interval at the end of each day.",
                )
                for variant, points in report.lift_over_time.items()
            ],
            "device_rows": [
                {"device": device, "result": r} for device, results in report.by_device.items() for r in results
            ],
            "bandit": bandit,
            "bandit_charts": [
                bar_chart(
                    [(arm.key, arm.share) for arm in bandit.arms],
                    title="Share of the bandit's traffic by arm, now",
                    value_format="{:.0%}",
                    max_value=1,
                ),
                bar_chart(
                    [(arm.key, arm.ipw.mean) for arm in bandit.arms],
                    title="Slot click-through by arm, inverse-propensity weighted",
                    value_format="{:.2%}",
                ),
            ]
            if bandit
            else [],
        }
        return TemplateResponse(request, "admin/experiments/report.html", context)

    def impact_view(self, request: HttpRequest) -> HttpResponse:
        """The programme's impact over a period: the global holdout against everyone else, and the
        revenue and orders that followed slot clicks, by slot and algorithm; CSV with format=csv."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        period, problems = date_range_parse(request.GET)
        for problem in problems:
            messages.error(request, problem)
        holdout = holdout_report(start=period.start, end=period.end, percent=settings.EXPERIMENTS_HOLDOUT_PERCENT)
        attribution = attribution_report(start=period.start, end=period.end)
        if request.GET.get("format") == "csv":
            return _impact_csv(holdout, attribution, name=f"impact-{period.first_day}-{period.last_day}.csv")
        labels, slots = dict(Metric.choices), dict(SLOT_CHOICES)
        by_metric = {r.metric: r for r in holdout.results}

        def arms(metric: str, value_format: str) -> str:
            r = by_metric[metric]
            return bar_chart(
                [("holdout", r.control.mean), ("personalized", r.treatment.mean)],
                title=f"{labels[metric]}: holdout and personalized",
                value_format=value_format,
            )

        context = {
            **self.admin_site.each_context(request),
            "media": CHART_MEDIA,
            "opts": self.model._meta,
            "title": "Impact of personalization",
            "period": period,
            "chosen_names": [],
            "holdout": holdout,
            "pre_period_days": PRE_PERIOD.days,
            "holdout_rows": [{"result": r, "label": labels[r.metric]} for r in holdout.results],
            "holdout_charts": [
                bar_chart(
                    [("holdout", holdout.counts[HOLDOUT]), ("personalized", holdout.counts[PERSONALIZED])],
                    title="Visitors exposed, holdout and personalized",
                ),
                arms(Metric.CONVERSION, "{:.2%}"),
                arms(Metric.REVENUE, "{:,.2f}"),
                interval_chart(
                    [
                        (at, e.relative, e.relative_interval.low, e.relative_interval.high)
                        for at, e in holdout.lift_over_time
                        if e
                    ],
                    title="Cumulative lift of revenue per visitor, personalized over the holdout",
                    description="Relative lift with its 95% sequential interval at the end of each day.",
                ),
            ],
            "attribution": attribution,
            "slot_rows": [(slots.get(row.slot, row.slot), row) for row in attribution.by_slot],
            "algorithm_rows": [(row.algorithm, row) for row in attribution.by_algorithm],
            "slot_algorithm_rows": [
                (f"{slots.get(row.slot, row.slot)} · {row.algorithm}", row) for row in attribution.by_slot_algorithm
            ],
            "attribution_charts": [
                bar_chart(
                    [(slots.get(row.slot, row.slot), row.revenue) for row in attribution.by_slot],
                    title="Revenue after a slot click, by slot",
                    value_format="{:,.2f}",
                ),
                bar_chart(
                    [(row.algorithm, row.revenue) for row in attribution.by_algorithm],
                    title="Revenue after a slot click, by algorithm",
                    value_format="{:,.2f}",
                ),
                bar_chart(
                    [(slots.get(row.slot, row.slot), row.conversion.mean) for row in attribution.by_slot],
                    title="Sessions with a slot click that bought a clicked product, by slot",
                    value_format="{:.1%}",
                ),
            ],
        }
        return TemplateResponse(request, "admin/experiments/impact.html", context)


IMPACT_HEADER = [
    "section", "metric", "slot", "algorithm", "holdout_n", "personalized_n", "holdout_mean", "personalized_mean",
    "absolute_lift", "sequential_low", "sequential_high", "relative_lift", "sequential_p", "clicks",
    "sessions_with_click", "orders", "units", "revenue", "session_conversion", "conversion_low", "conversion_high",
]  # fmt: skip


def _impact_csv(holdout: HoldoutReport, attribution: AttributionReport, *, name: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(IMPACT_HEADER)
    for r in holdout.results:
        e = r.effect
        writer.writerow(
            ["holdout", r.metric, "", "", r.control.n, r.treatment.n, r.control.mean, r.treatment.mean]
            + (
                [e.absolute, e.absolute_interval.low, e.absolute_interval.high, e.relative, e.p_value]
                if e
                else [""] * 5
            )
            + [""] * 8
        )
    for section, rows in (
        ("attribution by slot", attribution.by_slot),
        ("attribution by algorithm", attribution.by_algorithm),
        ("attribution by slot and algorithm", attribution.by_slot_algorithm),
    ):
        for row in rows:
            c = row.conversion
            writer.writerow(
                [section, "", row.slot, row.algorithm, *[""] * 9, row.clicks, row.sessions, row.orders, row.units,
                 row.revenue, c.mean, c.interval.low, c.interval.high]
            )  # fmt: skip
    return response


def _report_csv(report) -> HttpResponse:
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="experiment-{report.experiment.pk}.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["metric", "variant", "control_n", "treatment_n", "control_mean", "treatment_mean", "absolute_lift",
         "sequential_low", "sequential_high", "relative_lift", "sequential_p", "holm_p", "fixed_low", "fixed_high",
         "chance_to_beat_control", "cuped_variance_reduction", "unadjusted_low", "unadjusted_high"]
    )  # fmt: skip
    for r in report.results:
        e, f, u = r.effect, r.fixed, r.unadjusted
        writer.writerow(
            [r.metric, r.variant, r.control.n, r.treatment.n, r.control.mean, r.treatment.mean]
            + ([e.absolute, e.absolute_interval.low, e.absolute_interval.high, e.relative, e.p_value, r.adjusted_p,
                f.absolute_interval.low, f.absolute_interval.high, r.chance_to_beat] if e else [""] * 9)
            + ([r.variance_reduction, u.absolute_interval.low, u.absolute_interval.high] if u else [""] * 3)
        )  # fmt: skip
    return response
