"""Forms that parse listing filters from the query string, with clear errors."""

from decimal import Decimal

from django import forms

from .selectors import SORT_LABELS

MAX_QUERY_LENGTH = 200


class ListingForm(forms.Form):
    q = forms.CharField(required=False, max_length=MAX_QUERY_LENGTH, strip=True)
    brand = forms.MultipleChoiceField(required=False, choices=())
    price_min = forms.DecimalField(required=False, min_value=Decimal("0"), max_digits=10, decimal_places=2)
    price_max = forms.DecimalField(required=False, min_value=Decimal("0"), max_digits=10, decimal_places=2)
    in_stock = forms.BooleanField(required=False)
    sort = forms.ChoiceField(required=False, choices=list(SORT_LABELS.items()))

    def __init__(self, *args, brand_slugs: list[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # Brand choices are validated against slugs that exist, so a crafted URL gets a reason.
        self.fields["brand"].choices = [(slug, slug) for slug in brand_slugs or []]

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("price_min"), cleaned.get("price_max")
        if low is not None and high is not None and low > high:
            raise forms.ValidationError("The lowest price must not be above the highest price.")
        return cleaned


class SuggestForm(forms.Form):
    """The type-ahead's one parameter: what the shopper has typed so far."""

    q = forms.CharField(required=False, max_length=MAX_QUERY_LENGTH, strip=True)


class ReviewForm(forms.Form):
    rating = forms.TypedChoiceField(
        choices=[(i, f"{i} star{'s' if i > 1 else ''}") for i in range(5, 0, -1)], coerce=int, widget=forms.RadioSelect
    )
    title = forms.CharField(max_length=120, required=False)
    body = forms.CharField(
        label="Your review", max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
