"""Forms of the cart, checkout and a guest's order look-up."""

from django import forms
from django.conf import settings

COUNTRIES = [
    ("GB", "United Kingdom"),
    ("IE", "Ireland"),
    ("FR", "France"),
    ("DE", "Germany"),
    ("NL", "Netherlands"),
    ("ES", "Spain"),
    ("IT", "Italy"),
    ("US", "United States"),
]


class CartLineForm(forms.Form):
    """Sets a line's quantity; zero removes it."""

    product_id = forms.IntegerField(label="Product", min_value=1, max_value=2**62)
    quantity = forms.IntegerField(label="Quantity", min_value=0, max_value=settings.CART_MAX_QUANTITY)


class CartAddForm(CartLineForm):
    quantity = forms.IntegerField(label="Quantity", min_value=1, max_value=settings.CART_MAX_QUANTITY)


class CouponForm(forms.Form):
    # Longer than any code, so a pasted code with spaces around it is still read.
    code = forms.CharField(label="Coupon code", max_length=64, required=False, strip=True)

    def clean_code(self):
        code = self.cleaned_data["code"]
        if "\x00" in code:
            raise forms.ValidationError("That is not a coupon code.")
        return code


class CheckoutForm(forms.Form):
    full_name = forms.CharField(max_length=120, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    address_line1 = forms.CharField(
        label="Address", max_length=200, widget=forms.TextInput(attrs={"autocomplete": "address-line1"})
    )
    address_line2 = forms.CharField(
        label="Address (line 2)",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "address-line2"}),
    )
    city = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"autocomplete": "address-level2"}))
    postcode = forms.CharField(max_length=20, widget=forms.TextInput(attrs={"autocomplete": "postal-code"}))
    country = forms.ChoiceField(choices=COUNTRIES, initial="GB")
    card_number = forms.RegexField(
        label="Card number",
        regex=r"^[0-9 \-]{12,23}$",
        error_messages={"invalid": "Enter the card number as digits (spaces are fine)."},
        widget=forms.TextInput(attrs={"autocomplete": "cc-number", "inputmode": "numeric"}),
        help_text="Payments are simulated: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined.",
    )


class OrderLookupForm(forms.Form):
    """An order number and the e-mail it was placed with: what a guest has in their confirmation mail."""

    number = forms.CharField(
        label="Order number",
        max_length=20,
        help_text="In your confirmation mail, like LL-1A2B3C4D.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    email = forms.EmailField(
        label="Email",
        help_text="The one you gave at checkout.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def clean_number(self) -> str:
        return self.cleaned_data["number"].strip().upper()
