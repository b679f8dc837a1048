"""The storefront's template tags: the dataLayer push carries the page's nonce, and renders nothing for no page."""

import json
import re

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from tests.factories.catalog import ProductFactory

pytestmark = pytest.mark.django_db
PUSH = Template('{% load shop_tags %}{% datalayer_push "view_item" product %}')


def test_the_push_carries_the_requests_nonce_and_the_product():
    request = RequestFactory().get("/")
    request.csp_nonce = "n0nce"
    product = ProductFactory(title="Teapot")
    html = PUSH.render(Context({"request": request, "product": product}))
    assert html.startswith('<script nonce="n0nce">window.dataLayer.push(')
    payload = json.loads(re.search(r"push\((.*)\);</script>", html).group(1))
    assert payload["event"] == "view_item"
    assert payload["ecommerce"]["items"][0]["item_name"] == "Teapot"


def test_a_template_rendered_for_no_page_gets_no_push():
    assert PUSH.render(Context({"product": ProductFactory()})) == ""
