"""Experiments in admin: set up as a draft, start (checked, then locked), stop or ship the winner."""

import csv

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from shop.charts import CHART_MEDIA, bar_chart, interval_chart

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
