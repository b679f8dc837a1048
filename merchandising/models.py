"""Rules (trigger, conditions, actions) with their versions, content blocks, offers, coupons and redemptions."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Upper

from shop.catalog.models import Category, Product

# The named places on a page a content block or a rule's block fills (base.html reserves them).
CONTENT_SLOTS = (
    ("site_banner", "Every page: banner above the content"),
    ("home_banner", "Home: banner under the header"),
    ("category_banner", "Category: banner above the products"),
    ("product_banner", "Product: message beside the price"),
    ("cart_banner", "Cart: message above the lines"),
)
CONTENT_SLOT_PAGES = {
    "home_banner": "home",
    "category_banner": "category",
    "product_banner": "product",
    "cart_banner": "cart",
}


class Scheduled(models.Model):
    """Something that applies between two moments (either may be open) while switched on."""

    is_active = models.BooleanField(default=True)
    starts_at = models.DateTimeField(null=True, blank=True, help_text="Empty: from now on.")
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Empty: until switched off.")

    class Meta:
        abstract = True


class ContentBlock(Scheduled):
    """A banner, a message or a short product list in one content slot, for some segments or everyone."""

    class Kind(models.TextChoices):
        BANNER = "banner", "Banner"
        MESSAGE = "message", "Message"
        PRODUCTS = "products", "Product list"

    name = models.CharField(max_length=100, unique=True, help_text="For staff; shoppers see the headline.")
    slot = models.CharField(max_length=32, choices=CONTENT_SLOTS)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.BANNER)
    headline = models.CharField(max_length=120)
    body = models.TextField(max_length=600, blank=True)
    link_url = models.CharField(
        max_length=300, blank=True, help_text="A path on this shop (/c/mugs/) or an https:// address."
    )
    link_text = models.CharField(max_length=40, blank=True)
    products = models.ManyToManyField(Product, blank=True, related_name="+", help_text="For a product list.")
    segments = models.JSONField(default=list, blank=True, help_text="Slugs of the segments it is for; empty: everyone.")
    excluded_segments = models.JSONField(default=list, blank=True, help_text="Slugs of segments it is never shown to.")
    only_by_rule = models.BooleanField(
        default=False, help_text="Shown only when a rule places it (a timer's offer), never on its own."
    )
    priority = models.IntegerField(default=0, help_text="The highest of the blocks that apply to a slot shows.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slot", "-priority", "name"]

    def __str__(self) -> str:
        return self.name


class Offer(Scheduled):
    """A discount: a percentage or an amount off a product, a category or the whole cart."""

    class Kind(models.TextChoices):
        PERCENT = "percent", "Percentage off"
        AMOUNT = "amount", "Amount off"

    class Target(models.TextChoices):
        PRODUCT = "product", "One product"
        CATEGORY = "category", "A category"
        CART = "cart", "The whole cart"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PERCENT)
    value = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))], help_text="10 is 10% or £10."
    )
    target = models.CharField(max_length=10, choices=Target.choices, default=Target.CART)
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    min_spend = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0.00"))],
        help_text="The cart's subtotal must reach this.",
    )
    automatic = models.BooleanField(
        default=False, help_text="Applied to every cart it fits without a code; otherwise it needs a coupon."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["automatic", "target"], name="offer_automatic")]

    def __str__(self) -> str:
        return self.name

    def describe(self) -> str:
        amount = f"{self.value.normalize():f}%" if self.kind == self.Kind.PERCENT else f"£{self.value:.2f}"
        on = {
            self.Target.PRODUCT: f"“{self.product}”" if self.product_id else "a product",
            self.Target.CATEGORY: f"{self.category}" if self.category_id else "a category",
            self.Target.CART: "your order",
        }[self.target]
        spend = f" when you spend £{self.min_spend:.2f}" if self.min_spend > 0 else ""
        return f"{amount} off {on}{spend}"


class Coupon(Scheduled):
    """A code that unlocks an offer, with how often it may be used."""

    class Usage(models.TextChoices):
        SINGLE = "single", "Single use (one order in all)"
        MULTI = "multi", "Many uses"
        ONCE_PER_CUSTOMER = "once_per_customer", "Once per customer"

    code = models.CharField(max_length=32, unique=True, help_text="Letters, digits and dashes; not case-sensitive.")
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="coupons")
    usage = models.CharField(max_length=20, choices=Usage.choices, default=Usage.MULTI)
    max_redemptions = models.PositiveIntegerField(
        null=True, blank=True, help_text="Orders in all that may use it; empty: no limit (single use is 1)."
    )
    per_customer_limit = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Orders per customer; empty: no limit."
    )
    times_redeemed = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(Upper("code"), name="coupon_code_case_insensitive")]

    def __str__(self) -> str:
        return self.code


class CouponRedemption(models.Model):
    """One order's use of a coupon, written in the order's own transaction."""

    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="redemptions")
    order = models.OneToOneField("orders.Order", on_delete=models.CASCADE, related_name="coupon_redemption")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who the customer is for "once per customer" when they are a guest: a digest of the
    # normalised e-mail address, never the address itself.
    customer = models.CharField(max_length=64, db_index=True)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    redeemed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-redeemed_at"]

    def __str__(self) -> str:
        return f"{self.coupon} on {self.order}"


class Rule(Scheduled):
    """When (trigger) and for whom (conditions) to do what (actions), with how it competes."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True, help_text="In plain words, what it is for.")
    trigger = models.JSONField(help_text="When it may fire: a page, or an event and what did not follow it.")
    conditions = models.JSONField(default=dict, blank=True, help_text="Who it is for; empty: everyone.")
    priority = models.IntegerField(default=0, help_text="Higher first; within an exclusive group only the first fires.")
    exclusive_group = models.SlugField(max_length=40, blank=True, help_text="At most one rule of a group per visitor.")
    cap_per_day = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Showings per visitor per day; empty: no cap.",
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-priority", "name"]

    def __str__(self) -> str:
        return self.name


class RuleAction(models.Model):
    """One thing a rule does when it fires."""

    class Kind(models.TextChoices):
        BLOCK = "block", "Show a content block"
        OFFER = "offer", "Show an offer"
        BOOST = "boost", "Boost in recommendations"
        BURY = "bury", "Bury in recommendations"
        PIN = "pin", "Pin at a position in recommendations"
        EXCLUDE = "exclude", "Exclude from recommendations"

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    block = models.ForeignKey(ContentBlock, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    offer = models.ForeignKey(Offer, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    content_slot = models.CharField(
        max_length=32, choices=CONTENT_SLOTS, blank=True, help_text="Where an offer shows; a block keeps its own slot."
    )
    products = models.ManyToManyField(Product, blank=True, related_name="+")
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    subject_product = models.BooleanField(
        default=False, help_text="Acts on the product the trigger was about (the one viewed and not added)."
    )
    slot = models.CharField(max_length=32, blank=True, help_text="Recommendation slot; empty: every slot of the page.")
    position = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(24)],
        help_text="For a pin: 1 is first.",
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.get_kind_display()


class RuleVersion(models.Model):
    """What a rule was after one save, and who saved it: its audit history."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    snapshot = models.JSONField()
    changes = models.TextField(blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["rule", "number"], name="ruleversion_unique_number")]

    def __str__(self) -> str:
        return f"{self.rule} v{self.number}"


class RuleFiring(models.Model):
    """An absence timer that fired: one row per (owner, rule, subject, due time), so a timer
    fired by two workers, or again after a restart, is recorded and pushed once."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="firings")
    owner = models.CharField(max_length=64)
    subject = models.CharField(max_length=120, blank=True)
    due_at = models.DateTimeField()
    fired_at = models.DateTimeField()

    class Meta:
        ordering = ["-fired_at"]
        constraints = [models.UniqueConstraint(fields=["rule", "owner", "subject", "due_at"], name="rulefiring_once")]
        indexes = [models.Index(fields=["rule", "-fired_at"], name="rulefiring_rule")]

    def __str__(self) -> str:
        return f"{self.rule} for {self.owner} ({self.subject})"
