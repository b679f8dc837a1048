"""Experiments in admin: set up as a draft, start (checked, then locked), stop or ship the winner."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from .models import Experiment, Variant
from .services import experiment_problems, experiment_start, experiment_stop

LOCKED = ("slot", "layer", "traffic_start", "traffic_percent", "salt", "primary_metric", "guardrails")


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
    list_display = ("name", "slot", "layer", "traffic_start", "traffic_percent", "primary_metric", "status")
    list_filter = ("status", "layer", "slot")
    inlines = [VariantInline]
    actions = ["start", "stop"]
    fields = ("name", "hypothesis", *LOCKED, "status", "started_at", "stopped_at", "winner")

    def get_readonly_fields(self, request, obj=None):
        fixed = ("status", "started_at", "stopped_at", "winner")
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
