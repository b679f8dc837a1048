"""Merchandising admin: rules with their actions and history, content blocks, offers, coupons and redemptions."""

import json
from datetime import datetime, time, timedelta

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from personalization.api import PREVIEW, Preview
from segments.models import Segment
from shop.catalog.models import Product
from shop.charts import CHART_SCRIPTS, time_series_chart
from tracking.devices import DEVICES

from .coupons import MAX_CODE, code_normalise
from .dryrun import rule_dry_run
from .models import ContentBlock, Coupon, CouponRedemption, Offer, Rule, RuleAction, RuleVersion
from .selectors import rule_report
from .services import RuleError, action_check, offer_check, rule_check, rule_version_record, rules_publish

JSON_WIDGET = forms.Textarea(attrs={"rows": 4, "cols": 80, "class": "vLargeTextField", "spellcheck": "false"})


def _raise_on(error: RuleError):
    raise ValidationError({error.field: error.args[0]} if error.field else error.args[0])


def _schedule_check(data: dict, what: str) -> None:
    starts, ends = data.get("starts_at"), data.get("ends_at")
    if starts and ends and ends <= starts:
        raise ValidationError({"ends_at": f"The {what} ends before it starts."})


class ViewAsForm(forms.Form):
    """A synthetic visitor: segments, a device, products viewed and a cart (ids), each optional."""

    as_segments = forms.BooleanField(required=False, label="Be in exactly these segments")
    segments = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    device = forms.ChoiceField(required=False, choices=[("", "as I am"), *[(d, d) for d in DEVICES]])
    recent = forms.CharField(required=False, label="Products viewed", help_text="Ids, most recent first: 12, 40")
    cart = forms.CharField(required=False, label="Cart", help_text="Ids with quantities: 12x2, 40")

    def __init__(self, *args, segments, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segments"].choices = [(slug, f"{name} ({slug})") for slug, name in segments]

    def _ids(self, field: str) -> list[tuple[int, int]]:
        found = []
        for part in filter(None, (piece.strip() for piece in self.cleaned_data[field].split(","))):
            pid, _, quantity = part.partition("x")
            if not pid.strip().isdigit() or (quantity and not quantity.strip().isdigit()):
                raise ValidationError(f"“{part}” is not a product id (with x and a quantity for the cart).")
            found.append((int(pid), int(quantity or 1)))
        existing = set(Product.objects.filter(pk__in=[pid for pid, _ in found]).values_list("pk", flat=True))
        missing = [pid for pid, _ in found if pid not in existing]
        if missing:
            raise ValidationError(f"No product has the id {missing[0]}.")
        return found

    def clean_recent(self):
        return [pid for pid, _ in self._ids("recent")]

    def clean_cart(self):
        return self._ids("cart")

    def preview(self) -> Preview:
        data = self.cleaned_data
        return Preview(
            segments=frozenset(data["segments"]) if data["as_segments"] or data["segments"] else None,
            device=data["device"],
            recent=tuple(data["recent"]),
            cart=tuple(data["cart"]),
        )


class RuleForm(forms.ModelForm):
    class Meta:
        model = Rule
        fields = (
            "name",
            "description",
            "is_active",
            "trigger",
            "starts_at",
            "ends_at",
            "conditions",
            "priority",
            "exclusive_group",
            "cap_per_day",
        )
        widgets = {"trigger": JSON_WIDGET, "conditions": JSON_WIDGET}
        help_texts = {
            "trigger": 'A page: {"page": "product"} (or with "product": 12, "category": 3, "term": "mug"). '
            'An event not followed by another: {"event": "view_item", "then_no": ["add_to_cart"], '
            '"within": "10m", "same": "product"}.',
            "conditions": 'Empty {} for everyone. {"all": [...]}, {"any": [...]}, {"not": {...}}, '
            '{"segment": "slug"}, {"cart_value": {"at_least": 50}}, {"cart_has": {"product": 12}}, '
            '{"device": "phone"}, {"hours": [18, 23]}, {"dates": ["2026-12-01", "2026-12-24"]}, '
            '{"in_stock": true}, {"variant": {"experiment": "name", "variant": "b"}}.',
        }

    def clean(self):
        data = super().clean()
        if "trigger" in data and "conditions" in data:
            known = set(Segment.objects.values_list("slug", flat=True))
            try:
                rule_check(trigger=data["trigger"], conditions=data["conditions"] or {}, known_segments=known)
            except RuleError as error:
                _raise_on(error)
        _schedule_check(data, "rule")
        return data


class RuleActionForm(forms.ModelForm):
    class Meta:
        model = RuleAction
        fields = (
            "kind",
            "block",
            "offer",
            "content_slot",
            "products",
            "category",
            "subject_product",
            "slot",
            "position",
        )

    def clean(self):
        data = super().clean()
        probe = RuleAction(
            kind=data.get("kind"),
            block=data.get("block"),
            offer=data.get("offer"),
            category=data.get("category"),
            subject_product=data.get("subject_product", False),
            position=data.get("position"),
        )
        trigger = getattr(self.instance.rule, "trigger", None) if self.instance.rule_id else None
        trigger = self.data.get("trigger") or trigger
        if isinstance(trigger, str):
            try:
                trigger = json.loads(trigger)
            except ValueError:
                trigger = None  # the rule's own field reports it
        try:
            action_check(action=probe, trigger=trigger, products=data.get("products"))
        except RuleError as error:
            _raise_on(error)
        return data


class RuleActionInline(admin.StackedInline):
    model = RuleAction
    form = RuleActionForm
    extra = 0
    min_num = 1
    autocomplete_fields = ("products", "category", "block", "offer")
    fields = (
        "kind",
        ("block", "offer", "content_slot"),
        ("products", "category", "subject_product"),
        ("slot", "position"),
    )

    def get_formset(self, request, obj=None, **kwargs):
        # A rule with no action does nothing: refuse it (the admin does not pass validate_min on).
        return super().get_formset(request, obj, validate_min=True, **kwargs)


class RuleVersionInline(admin.TabularInline):
    model = RuleVersion
    extra = 0
    can_delete = False
    fields = ("number", "changed_at", "changed_by", "changes")
    readonly_fields = fields
    verbose_name_plural = "History"

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    form = RuleForm
    list_display = (
        "name",
        "is_active",
        "priority",
        "exclusive_group",
        "cap_per_day",
        "starts_at",
        "ends_at",
        "version",
    )
    list_filter = ("is_active", "exclusive_group")
    search_fields = ("name", "description")
    inlines = (RuleActionInline, RuleVersionInline)
    readonly_fields = ("version", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "description", "is_active")}),
        ("When", {"fields": ("trigger", ("starts_at", "ends_at"))}),
        ("For whom", {"fields": ("conditions",)}),
        ("Competing", {"fields": ("priority", "exclusive_group", "cap_per_day")}),
        ("Version", {"fields": ("version", "updated_at")}),
    )

    change_form_template = "admin/merchandising/rule/change_form.html"

    class Media:
        js = CHART_SCRIPTS

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        rule_version_record(rule=form.instance, user=request.user)

    def get_urls(self):
        dry_run = self.admin_site.admin_view(self.dry_run_view)
        view_as = self.admin_site.admin_view(self.view_as_view)
        return [
            path("<int:rule_id>/dry-run/", dry_run, name="merchandising_rule_dry_run"),
            path("view-as/", view_as, name="merchandising_rule_view_as"),
            *super().get_urls(),
        ]

    def view_as_view(self, request):
        """Staff browse the shop as someone else (segments, a device, products viewed, a cart)
        until they stop; only their own session changes."""
        slugs = list(Segment.objects.order_by("name").values_list("slug", "name"))
        form = ViewAsForm(request.POST or None, segments=slugs)
        if request.method == "POST" and "stop" in request.POST:
            request.session.pop(PREVIEW, None)
            return redirect("admin:merchandising_rule_changelist")
        if request.method == "POST" and form.is_valid():
            request.session[PREVIEW] = form.preview().as_json()
            return redirect("home")
        current = Preview.from_json(request.session.get(PREVIEW))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "View the shop as someone else",
            "form": form,
            "current": current.describe() if current else "",
        }
        return TemplateResponse(
            request, "admin/merchandising/rule/view_as.html", context, status=400 if form.errors else 200
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        rule = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if rule is not None:
            report = rule_report(rule=rule)
            extra["report"] = report
            extra["charts"] = [
                time_series_chart([(day, series.get(day, 0)) for day in report.days], title=title, time_format="%d %b")
                for title, series in (
                    (f"Shown (promotion seen) per day: {rule.name}", report.shown),
                    ("Clicked per day", report.clicked),
                    ("Timers fired per day", report.fired),
                )
            ]
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def dry_run_view(self, request, rule_id: int):
        """The rule replayed over a day of recorded traffic (yesterday unless ?day=YYYY-MM-DD)."""
        rule = get_object_or_404(Rule, pk=rule_id)
        if not self.has_view_permission(request, rule):
            raise PermissionDenied
        today = timezone.localdate()
        error = ""
        try:
            day = datetime.strptime(request.GET.get("day", ""), "%Y-%m-%d").date() if request.GET.get("day") else None
        except ValueError:
            day, error = None, "Write the day as 2026-11-30; showing yesterday."
        day = day or today - timedelta(days=1)
        start = timezone.make_aware(datetime.combine(day, time.min))
        try:
            result = rule_dry_run(rule=rule, start=start, end=start + timedelta(days=1))
        except ValueError as problem:
            result, error = None, f"The rule cannot be replayed as it is: {problem}"
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": rule,
            "title": f"Dry run of “{rule.name}”",
            "day": day,
            "result": result,
            "error": error,
        }
        return TemplateResponse(
            request, "admin/merchandising/rule/dry_run.html", context, status=400 if error and result is None else 200
        )

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        transaction.on_commit(rules_publish)


class PublishOnSave(admin.ModelAdmin):
    """Blocks and offers are inside the published rules: a change republishes them."""

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        transaction.on_commit(rules_publish)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        transaction.on_commit(rules_publish)


class ContentBlockForm(forms.ModelForm):
    class Meta:
        model = ContentBlock
        fields = (
            "name",
            "slot",
            "kind",
            "headline",
            "body",
            "link_url",
            "link_text",
            "products",
            "segments",
            "excluded_segments",
            "only_by_rule",
            "priority",
            "is_active",
            "starts_at",
            "ends_at",
        )
        widgets = {"segments": JSON_WIDGET, "excluded_segments": JSON_WIDGET}

    def clean_link_url(self):
        url = self.cleaned_data["link_url"].strip()
        if url and not ((url.startswith("/") and not url.startswith("//")) or url.startswith("https://")):
            raise ValidationError("Link to a path on this shop (/c/mugs/) or an https:// address.")
        return url

    def _slugs(self, field: str) -> list[str]:
        value = self.cleaned_data[field] or []
        if not isinstance(value, list) or not all(isinstance(slug, str) for slug in value):
            raise ValidationError('A list of segment slugs, e.g. ["newsletter"].')
        unknown = sorted(set(value) - set(Segment.objects.values_list("slug", flat=True)))
        if unknown:
            raise ValidationError(f"No segment is called {unknown[0]!r}.")
        return value

    def clean_segments(self):
        return self._slugs("segments")

    def clean_excluded_segments(self):
        return self._slugs("excluded_segments")

    def clean(self):
        data = super().clean()
        _schedule_check(data, "block")
        return data


@admin.register(ContentBlock)
class ContentBlockAdmin(PublishOnSave):
    form = ContentBlockForm
    list_display = ("name", "slot", "kind", "is_active", "priority", "starts_at", "ends_at", "only_by_rule")
    list_filter = ("slot", "kind", "is_active")
    search_fields = ("name", "headline")
    autocomplete_fields = ("products",)


class OfferForm(forms.ModelForm):
    class Meta:
        model = Offer
        fields = (
            "name",
            "kind",
            "value",
            "target",
            "product",
            "category",
            "min_spend",
            "automatic",
            "is_active",
            "starts_at",
            "ends_at",
        )

    def clean(self):
        data = super().clean()
        probe = Offer(
            **{key: data.get(key) for key in ("kind", "value", "target", "product", "category", "starts_at", "ends_at")}
        )
        if probe.value is not None:
            try:
                offer_check(offer=probe)
            except RuleError as error:
                _raise_on(error)
        return data


class CouponForm(forms.ModelForm):
    class Meta:
        model = Coupon
        fields = (
            "code",
            "offer",
            "usage",
            "max_redemptions",
            "per_customer_limit",
            "is_active",
            "starts_at",
            "ends_at",
        )

    def clean_code(self):
        code = code_normalise(self.cleaned_data["code"])
        if not code or len(code) > MAX_CODE or not all(ch.isalnum() or ch == "-" for ch in code):
            raise ValidationError(f"A code is 1 to {MAX_CODE} letters, digits and dashes.")
        return code

    def clean(self):
        data = super().clean()
        _schedule_check(data, "coupon")
        if data.get("usage") == Coupon.Usage.SINGLE and data.get("max_redemptions") not in (None, 1):
            raise ValidationError({"max_redemptions": "A single-use coupon is used once; leave this empty."})
        return data


class CouponInline(admin.TabularInline):
    model = Coupon
    form = CouponForm
    extra = 0
    fields = (
        "code",
        "usage",
        "max_redemptions",
        "per_customer_limit",
        "is_active",
        "starts_at",
        "ends_at",
        "times_redeemed",
    )
    readonly_fields = ("times_redeemed",)


@admin.register(Offer)
class OfferAdmin(PublishOnSave):
    form = OfferForm
    list_display = ("name", "kind", "value", "target", "min_spend", "automatic", "is_active", "starts_at", "ends_at")
    list_filter = ("kind", "target", "automatic", "is_active")
    search_fields = ("name",)
    autocomplete_fields = ("product", "category")
    inlines = (CouponInline,)


class RedemptionInline(admin.TabularInline):
    model = CouponRedemption
    extra = 0
    can_delete = False
    fields = ("order", "amount", "redeemed_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Coupon)
class CouponAdmin(PublishOnSave):
    form = CouponForm
    list_display = ("code", "offer", "usage", "times_redeemed", "max_redemptions", "is_active", "starts_at", "ends_at")
    list_filter = ("usage", "is_active")
    search_fields = ("code", "offer__name")
    autocomplete_fields = ("offer",)
    readonly_fields = ("times_redeemed",)
    inlines = (RedemptionInline,)
