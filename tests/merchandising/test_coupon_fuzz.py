"""The coupon form fuzzed from outside: any body, any code, a clear answer and a cart that adds up, never a 500."""

from decimal import Decimal
from urllib.parse import quote_from_bytes

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from merchandising.models import Coupon
from tests.factories.catalog import ProductFactory
from tests.factories.merchandising import CouponFactory, OfferFactory

CODES = st.one_of(
    st.sampled_from([b"SAVE10", b"save10", b" S A V E 1 0 ", b"USEDUP", b"\x00", b"\xff\xfe", b"x" * 500, b"'--"]),
    st.binary(max_size=40),
    st.text(max_size=40).map(lambda text: text.encode("utf-8", "surrogatepass")),
)
FIELDS = st.lists(st.tuples(st.sampled_from(["code", "remove", "csrfmiddlewaretoken", "x"]), CODES), max_size=4)


@pytest.fixture
def cart_client(db):
    CouponFactory(code="SAVE10", offer=OfferFactory(value=10))
    CouponFactory(code="USEDUP", usage=Coupon.Usage.SINGLE, times_redeemed=1)
    client = Client(raise_request_exception=False)
    client.post(reverse("orders:cart_add"), {"product_id": ProductFactory(price=Decimal("30.00"), stock=5).pk})
    return client


@pytest.mark.django_db
@hypothesis_settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(fields=FIELDS)
@example(fields=[("code", b"\x00")])
@example(fields=[("code", b"save10"), ("remove", b"1")])
@example(fields=[("code", b"\xff\xfe")])
def test_any_coupon_post_gets_a_clear_answer_and_the_cart_still_adds_up(cart_client, fields):
    body = "&".join(f"{quote_from_bytes(k.encode(), safe='')}={quote_from_bytes(v, safe='')}" for k, v in fields)
    answer = cart_client.post(reverse("orders:cart_coupon"), body, content_type="application/x-www-form-urlencoded")
    assert answer.status_code in (302, 400, 409), (fields, answer.status_code)
    if answer.status_code != 302:
        assert b'role="alert"' in answer.content
    summary = cart_client.get(reverse("orders:cart")).context["summary"]
    assert summary.total == summary.subtotal - summary.discount + summary.shipping >= 0
    assert summary.discount in (Decimal("0.00"), Decimal("3.00"))
