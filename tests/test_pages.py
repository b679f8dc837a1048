"""Every storefront page and every admin list, add and change page renders."""

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories.accounts import UserFactory
from tests.factories.catalog import ProductFactory
from tests.factories.merchandising import ContentBlockFactory, CouponFactory, RuleActionFactory, RuleFactory
from tests.factories.orders import CartLineFactory, OrderLineFactory

pytestmark = pytest.mark.django_db

# The policy every page is served with; a page's nonce (given to its dataLayer scripts) is left out.
POLICY = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "img-src": {"'self'", "data:"},
    # The tracker's socket on the page's own host, named (browsers before CSP 3 do not count it as 'self').
    "connect-src": {"'self'", "ws://testserver"},
    "object-src": {"'none'"},
    "frame-ancestors": {"'none'"},
    "form-action": {"'self'"},
    "base-uri": {"'self'"},
}


def assert_policy(response, url: str) -> None:
    """The page carries the shop's Content-Security-Policy: nothing inline runs without its nonce."""
    header = response.get("Content-Security-Policy")
    assert header, f"{url} has no Content-Security-Policy"
    directives = {}
    for directive in filter(None, (part.strip() for part in header.split(";"))):
        name, *sources = directive.split()
        directives[name] = {source for source in sources if not source.startswith("'nonce-")}
    assert directives == POLICY, url


@pytest.fixture
def world():
    product = ProductFactory(title="Enamel Mug", stock=4)
    order_line = OrderLineFactory(product=product)
    CartLineFactory(product=product)
    coupon = CouponFactory()
    coupon.redemptions.create(order=order_line.order, customer="digest", amount=1)
    rule = RuleActionFactory(kind="offer", offer=coupon.offer).rule
    rule.versions.create(number=1, snapshot={"name": rule.name}, changes="created")
    rule.firings.create(owner="v:1", subject="", due_at=order_line.order.placed_at, fired_at=order_line.order.placed_at)
    RuleActionFactory(rule=RuleFactory(), kind="block", block=ContentBlockFactory())
    return {"product": product, "order": order_line.order}


def test_every_storefront_page_renders(client, world):
    product, order = world["product"], world["order"]
    client.force_login(order.user)
    client.post(reverse("orders:cart_add"), {"product_id": product.pk, "quantity": 1})
    pages = [
        reverse("home"),
        product.category.department.get_absolute_url(),
        product.category.get_absolute_url(),
        product.get_absolute_url(),
        reverse("catalog:search") + "?q=mug",
        reverse("catalog:search"),
        reverse("orders:cart"),
        reverse("orders:checkout"),
        reverse("orders:history"),
        order.get_absolute_url(),
        reverse("health"),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_policy(response, url)
    client.logout()
    for url in (reverse("accounts:login"), reverse("accounts:register")):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_policy(response, url)


def test_unknown_page_gets_the_shop_404(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "Larder" in response.content.decode()
    assert_policy(response, "/no/such/page/")


def test_server_error_page_renders_without_context(client):
    from django.template.loader import render_to_string

    assert "went wrong" in render_to_string("500.html").lower()


def test_every_admin_page_renders_for_staff(staff_client, world):
    def assert_renders(url: str, **query) -> None:
        response = staff_client.get(url, query)
        assert response.status_code == 200, url
        assert_policy(response, url)

    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        assert_renders(changelist)
        assert_renders(changelist, q="<script>")
        if model_admin.has_add_permission(type("R", (), {"user": UserFactory(is_superuser=True)})()):
            assert_renders(reverse(f"admin:{meta.app_label}_{meta.model_name}_add"))
        instance = model.objects.first()
        if instance is not None:
            assert_renders(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[instance.pk]))


def test_admin_is_staff_only(client):
    client.force_login(UserFactory())
    response = client.get(reverse("admin:catalog_product_changelist"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
