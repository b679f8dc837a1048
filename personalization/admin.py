"""Personalization admin: slot settings with their click-through, and model versions."""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html_join

from shop.charts import CHART_MEDIA, CHART_SCRIPTS, bar_chart
from tracking.analytics.dates import run_time_text

from .models import ModelVersion, SlotConfig
from .quality import quality_detail, quality_summary
from .recommenders.registry import algorithms
from .selectors import serving_quality, slot_performance, slot_settings_problem
from .serving import slots_publish
from .slots import RECENT
from .training import model_activate

REPORT_DAYS = (7, 30, 90)


WEIGHT_FIELDS = {
    "collaborative": "weight_collaborative",
    "content": "weight_content",
    "recency": "weight_recency",
    "popularity": "weight_popularity",
}


class SlotConfigForm(forms.ModelForm):
    """Refuses settings under which the slot would show nothing of its own, with why
    (personalization.selectors.slot_settings_problem); the change list's rows use it too."""

    class Meta:
        model = SlotConfig
        fields = (
            "slot",
            "title",
            "algorithm",
            "size",
            "is_active",
            *WEIGHT_FIELDS.values(),
            "diversity",
            "epsilon",
        )

    def clean(self):
        cleaned = super().clean()

        def value(field: str):
            # A change-list row edits some fields only; the rest are the slot's saved ones.
            return cleaned[field] if field in cleaned else getattr(self.instance, field)

        weights = {part: value(field) or 0 for part, field in WEIGHT_FIELDS.items()}
        if value("algorithm"):
            problem = slot_settings_problem(algorithm=value("algorithm"), weights=weights)
            if problem:
                raise forms.ValidationError(problem)
        return cleaned


def _value_text(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"“{value}”" if isinstance(value, str) else f"{value:g}" if isinstance(value, float) else str(value)


def slot_change_text(form: forms.ModelForm) -> str:
    """What a save changed, old and new: 'Changed Diversity from 0 to 0.8; Title from “A” to “B”.'"""
    changes = [
        f"{form.fields[name].label or name} from {_value_text(form.initial.get(name))} "
        f"to {_value_text(form.cleaned_data.get(name))}"
        for name in form.changed_data
    ]
    return "Changed " + "; ".join(changes) + "."


@admin.register(SlotConfig)
class SlotConfigAdmin(admin.ModelAdmin):
    form = SlotConfigForm
    list_display = ("slot", "title", "algorithm", "size", "diversity", "epsilon", "is_active")
    list_editable = ("title", "algorithm", "size", "diversity", "epsilon", "is_active")
    fieldsets = (
        (None, {"fields": ("slot", "title", "algorithm", "size", "is_active")}),
        (
            "Hybrid blend weights",
            {
                "fields": ("weight_collaborative", "weight_content", "weight_recency", "weight_popularity"),
                "description": "Used when the algorithm is 'hybrid': each part's scores are scaled to 0–1 and mixed.",
            },
        ),
        ("Re-ranking", {"fields": ("diversity", "epsilon")}),
    )
    change_list_template = "admin/personalization/slotconfig/change_list.html"

    def get_changelist_form(self, request, **kwargs):
        return super().get_changelist_form(request, form=SlotConfigForm, **kwargs)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "algorithm":
            # A choice of what exists, so a typo cannot leave a slot empty.
            # "hybrid" is in the registry: the blend of the served parts with this slot's weights.
            # "recent" is no model: the visitor's recently viewed products, newest first.
            names = sorted([*algorithms(), RECENT])
            return forms.ChoiceField(choices=[(name, name) for name in names], label="Algorithm")
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def construct_change_message(self, request, form, formsets, add=False):
        # Django's history names the changed fields only; a merchandiser asks what they were before.
        if add or not form.changed_data:
            return super().construct_change_message(request, form, formsets, add)
        return slot_change_text(form)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # Pages read slot settings from Redis, so a change shows on the next page view.
        transaction.on_commit(slots_publish)

    def get_urls(self):
        report = path("performance/", self.admin_site.admin_view(self.performance_view), name="slot_performance")
        return [report, *super().get_urls()]

    def performance_view(self, request):
        try:
            days = int(request.GET.get("days", 30))
        except ValueError:
            days = 30
        if days not in REPORT_DAYS:
            messages.warning(request, f"Showing 30 days: the report covers {', '.join(map(str, REPORT_DAYS))} days.")
            days = 30
        rows = slot_performance(days=days)
        chart = bar_chart(
            [(f"{row.slot} · {row.algorithm}", row.ctr * 100) for row in rows],
            title=f"Click-through rate per slot and algorithm, last {days} days",
            value_format="{:.1f}%",
        )
        context = {
            **self.admin_site.each_context(request),
            "media": CHART_MEDIA,
            "title": "Slot performance",
            "rows": rows,
            "chart": chart,
            "days": days,
            "choices": REPORT_DAYS,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/personalization/slotconfig/performance.html", context)


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "id",
        "status",
        "is_active",
        "started_at",
        "training_time",
        "offline_quality",
        "events_used",
        "n_users",
        "n_items",
        "artifact_bytes",
        "peak_memory_mb",
    )
    list_filter = ("name", "status", "is_active")
    readonly_fields = [
        {"seconds": "training_time", "quality": "offline_quality_detail"}.get(field.name, field.name)
        for field in ModelVersion._meta.fields
        if field.name != "artifact"
    ]
    exclude = ("artifact", "seconds", "quality")  # seconds read as the training time above
    actions = ["activate"]
    change_list_template = "admin/personalization/modelversion/change_list.html"

    class Media:
        js = CHART_SCRIPTS

    def changelist_view(self, request, extra_context=None):
        chart = bar_chart(
            serving_quality(),
            title="NDCG@10 of each serving version on its held-out shoppers",
            value_format="{:.3f}",
            description="Each version's figure comes from its own run: the last 20% of its training window, held out.",
        )
        return super().changelist_view(request, {**(extra_context or {}), "quality_chart": chart})

    @admin.display(description="Training time", ordering="seconds")
    def training_time(self, version: ModelVersion) -> str:
        return run_time_text(version.seconds)

    @admin.display(description="Offline quality")
    def offline_quality(self, version: ModelVersion) -> str:
        return self._unmeasured(version) or quality_summary(version.quality)

    @admin.display(description="Offline quality")
    def offline_quality_detail(self, version: ModelVersion) -> str:
        """Every figure, the split they come from, how far to trust them, and what measuring cost."""
        unmeasured = self._unmeasured(version)
        if unmeasured:
            return unmeasured
        lines = quality_detail(version.quality)
        if version.quality.get("seconds") is not None:
            lines.append(f"Measuring took {run_time_text(version.quality['seconds'])} of this run's training time.")
        text = format_html_join("", "<p>{}</p>", ((line,) for line in lines))
        baseline = version.quality.get("baseline")
        if not baseline:
            return text
        chart = bar_chart(
            [
                (f"{version.name} v{version.pk}", version.quality["metrics"]["ndcg@10"]),
                (baseline["name"], baseline["metrics"]["ndcg@10"]),
            ],
            title="NDCG@10 on the same held-out shoppers",
            value_format="{:.3f}",
        )
        return text + chart

    @staticmethod
    def _unmeasured(version: ModelVersion) -> str:
        """Why a version that never reached measuring has no quality."""
        if version.quality:
            return ""
        if version.status == ModelVersion.Status.TRAINING:
            return "measured once training ends"
        if version.status == ModelVersion.Status.FAILED:
            return "not measured: the training failed"
        return ""

    def has_add_permission(self, request) -> bool:
        return False  # versions come from training

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Serve the selected version (roll back or forward)")
    def activate(self, request, queryset):
        for version in queryset:
            try:
                model_activate(version=version)
            except ValueError as error:
                self.message_user(request, str(error), level=messages.ERROR)
            else:
                self.message_user(request, f"{version.name} now serves version {version.pk}.")
