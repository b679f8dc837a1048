"""Report periods read from GET parameters, and how reports write durations and shares."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django import forms
from django.utils import timezone

DEFAULT_DAYS = 30
# A year answers any seasonal question; longer ranges only make a report slow to compute.
MAX_DAYS = 366
EARLIEST = date(2000, 1, 1)


@dataclass(frozen=True)
class DateRange:
    """Whole days, first and last included, in the shop's time zone."""

    first_day: date
    last_day: date

    @property
    def start(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.first_day, time.min))

    @property
    def end(self) -> datetime:
        """The first moment after the range (exclusive upper bound)."""
        return timezone.make_aware(datetime.combine(self.last_day + timedelta(days=1), time.min))

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


class DateRangeForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def _in_reach(self, value: date | None) -> date | None:
        # 9999-12-31 parses, but its day after does not exist: keep dates where arithmetic works.
        if value and not EARLIEST <= value <= timezone.localdate() + timedelta(days=MAX_DAYS):
            raise forms.ValidationError("Choose a date between 2000 and next year.")
        return value

    def clean_start(self) -> date | None:
        return self._in_reach(self.cleaned_data.get("start"))

    def clean_end(self) -> date | None:
        return self._in_reach(self.cleaned_data.get("end"))

    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if start > end:
                raise forms.ValidationError("The start date must not be after the end date.")
            if (end - start).days + 1 > MAX_DAYS:
                raise forms.ValidationError(f"Choose at most {MAX_DAYS} days.")
        return cleaned


def date_range_parse(
    params, *, default_days: int = DEFAULT_DAYS, today: date | None = None
) -> tuple[DateRange, list[str]]:
    """The range asked for in params (start, end as YYYY-MM-DD), or the last default_days days.

    Returns the range to use and the problems found; a bad parameter falls back to the
    default rather than failing the page.
    """
    today = today or timezone.localdate()
    default = DateRange(first_day=today - timedelta(days=default_days - 1), last_day=today)
    if not params.get("start") and not params.get("end"):
        return default, []
    form = DateRangeForm({"start": params.get("start", ""), "end": params.get("end", "")})
    if not form.is_valid():
        labels = {"start": "From", "end": "To"}
        problems = [
            f"{labels[field]}: {error}" if field in labels else error
            for field, errors in form.errors.items()
            for error in errors
        ]
        return default, [*problems, f"Showing the last {default_days} days instead."]
    last_day = form.cleaned_data["end"] or today
    first_day = form.cleaned_data["start"] or last_day - timedelta(days=default_days - 1)
    if first_day > last_day or (last_day - first_day).days + 1 > MAX_DAYS:
        return default, [
            f"Choose a start before the end and at most {MAX_DAYS} days; showing the last {default_days} days."
        ]
    return DateRange(first_day=first_day, last_day=last_day), []


def duration_text(value: timedelta | None) -> str:
    """A duration as a merchandiser reads it: '45 s', '12 min', '3 h 5 min', '2 days 4 h'."""
    if value is None:
        return "–"
    seconds = value.total_seconds()
    sign, seconds = ("−", -seconds) if seconds < 0 else ("", seconds)
    if seconds < 60:
        text = f"{seconds:.0f} s" if seconds >= 1 or seconds == 0 else f"{seconds:.1f} s"
    elif seconds < 3600:
        text = f"{seconds // 60:.0f} min"
    elif seconds < 86400:
        hours, rest = divmod(seconds, 3600)
        text = f"{hours:.0f} h" + (f" {rest // 60:.0f} min" if rest >= 60 else "")
    else:
        days, rest = divmod(seconds, 86400)
        text = f"{days:.0f} day{'s' if days != 1 else ''}" + (f" {rest // 3600:.0f} h" if rest >= 3600 else "")
    return sign + text


def run_time_text(seconds: float) -> str:
    """How long a run took (a training, a clustering) as a person reads it: '340 ms', '1.7 s', '2 min 5 s'."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    # Past an hour the seconds are noise: read as every other duration in admin.
    return duration_text(timedelta(seconds=seconds))


def percent_text(share: float | None) -> str:
    """A share as a percentage with one decimal, or a dash when there is nothing to divide."""
    return "–" if share is None else f"{share * 100:.1f} %"
