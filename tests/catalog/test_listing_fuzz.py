"""Every query-string parameter of the listings, fuzzed from outside: a 4xx with a reason or a clean page."""

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.factories.catalog import BrandFactory, CategoryFactory, ProductFactory
from tests.fuzzing import encoded, pairs_of

PARAMETERS = ("q", "brand", "price_min", "price_max", "in_stock", "sort", "page")
PAIRS = pairs_of(PARAMETERS)


@pytest.fixture
def listings(db):
    category = CategoryFactory(slug="mugs", department__slug="kitchen")
    ProductFactory.create_batch(3, category=category, brand=BrandFactory(slug="hearth-co"), title="Stoneware mug")
    return ["/search/", category.get_absolute_url(), category.department.get_absolute_url()]


@pytest.mark.django_db
@hypothesis_settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(pairs=PAIRS, which=st.integers(0, 2))
@example(pairs=[("q", b"\x00")], which=0)
@example(pairs=[("q", b"mug"), ("page", b"\x00")], which=1)
@example(pairs=[("sort", b"\x00"), ("brand", b"\x00")], which=2)
@example(pairs=[("price_min", b"1e400"), ("price_max", b"NaN")], which=1)
@example(pairs=[("q", b"\xff\xfe"), ("page", b"9" * 40)], which=0)
def test_any_query_string_gets_a_clean_page_or_a_4xx_never_a_500(listings, pairs, which):
    client = Client(raise_request_exception=False)
    response = client.get(f"{listings[which]}?{encoded(pairs)}")
    assert response.status_code == 200 or 400 <= response.status_code < 500, (pairs, response.status_code)
    assert response["Content-Type"].startswith("text/html")
    if response.status_code == 400:
        assert b'role="alert"' in response.content or b'class="form-errors' in response.content, pairs
