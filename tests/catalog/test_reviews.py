"""Shoppers rate and review products; the product page shows the average and the words."""

import pytest
from django.urls import reverse

from shop.catalog.models import Review
from tests.factories.accounts import UserFactory
from tests.factories.catalog import ProductFactory, ReviewFactory

pytestmark = pytest.mark.django_db


def test_product_page_shows_average_rating_and_reviews(client):
    product = ProductFactory()
    ReviewFactory(product=product, rating=5, title="Lovely")
    ReviewFactory(product=product, rating=4)
    ReviewFactory(product=product, rating=1, is_published=False, title="Hidden rant")
    body = client.get(product.get_absolute_url()).content.decode()
    assert "4.5 out of 5 from 2 reviews" in body
    assert "Lovely" in body
    assert "Hidden rant" not in body


def test_a_shopper_reviews_then_edits_their_review(client):
    product = ProductFactory()
    user = UserFactory()
    client.force_login(user)
    url = reverse("catalog:review", kwargs={"slug": product.slug})
    assert client.post(url, {"rating": "3", "title": "Fine", "body": "It works."}).status_code == 302
    assert client.post(url, {"rating": "5", "title": "Grew on me"}).status_code == 302
    review = Review.objects.get(product=product, user=user)
    assert (review.rating, review.title) == (5, "Grew on me")


@pytest.mark.parametrize("rating", ["0", "6", "", "five", "-1"])
def test_bad_ratings_are_refused_with_a_reason(client, rating):
    product = ProductFactory()
    client.force_login(UserFactory())
    response = client.post(reverse("catalog:review", kwargs={"slug": product.slug}), {"rating": rating})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode() or "required" in response.content.decode()
    assert not Review.objects.exists()


def test_reviewing_needs_an_account(client):
    product = ProductFactory()
    response = client.post(reverse("catalog:review", kwargs={"slug": product.slug}), {"rating": "5"})
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]
    assert not Review.objects.exists()


def test_review_text_is_escaped(client):
    product = ProductFactory()
    ReviewFactory(product=product, title="<script>alert(1)</script>")
    body = client.get(product.get_absolute_url()).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
