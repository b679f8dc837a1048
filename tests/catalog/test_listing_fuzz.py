"""Every query-string parameter of the listings, fuzzed from outside: a 4xx with a reason or a clean page."""

from urllib.parse import quote_from_bytes

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.factories.catalog import BrandFactory, CategoryFactory, ProductFactory

PARAMETERS = ("q", "brand", "price_min", "price_max", "in_stock", "sort", "page")
# What a crafted link carries: any text, bytes that are not UTF-8, numbers at and past every
# bound, the words the form knows, and NULs and controls that Postgres refuses.
SPECIAL = st.sampled_from(
    [
        b"\x00",
        b"mug\x00",
        b"\xff\xfe",
        b"NaN",
        b"Infinity",
        b"-1",
        b"0",
        b"1e400",
        b"9" * 40,
        b"99999999.999",
        b"price_asc",
        b"relevance",
        b"hearth-co",
        b"on",
        b"last",
        b"%",
        b"'",
        b"\\",
        b" " * 3,
        b"x" * 500,
    ]
)
VALUES = st.one_of(
    SPECIAL, st.text(max_size=30).map(lambda text: text.encode("utf-8", "surrogatepass")), st.binary(max_size=12)
)
PAIRS = st.lists(st.tuples(st.one_of(st.sampled_from(PARAMETERS), st.text(max_size=6)), VALUES), max_size=6)


def _query(pairs) -> str:
    return "&".join(
        f"{quote_from_bytes(key.encode('utf-8', 'surrogatepass'), safe='')}={quote_from_bytes(value, safe='')}"
        for key, value in pairs
    )


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
    response = client.get(f"{listings[which]}?{_query(pairs)}")
    assert response.status_code == 200 or 400 <= response.status_code < 500, (pairs, response.status_code)
    assert response["Content-Type"].startswith("text/html")
    if response.status_code == 400:
        assert b'role="alert"' in response.content or b'class="form-errors' in response.content, pairs
