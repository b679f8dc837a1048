"""Shoppers rate and review products; once staff publish a review the product page shows its stars and words."""

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings

from shop.catalog.models import Review
from tests.factories.accounts import UserFactory
from tests.factories.catalog import ProductFactory, ReviewFactory
from tests.fuzzing import assert_clean_answer, encoded, pairs_of

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


@pytest.mark.parametrize("count", [20, 21])
def test_the_rating_counts_every_review_when_the_page_shows_only_the_newest(client, count):
    product = ProductFactory()
    ReviewFactory.create_batch(count - 2, product=product, rating=4)
    ReviewFactory.create_batch(2, product=product, rating=1)
    body = client.get(product.get_absolute_url()).content.decode()
    assert f"3.7 out of 5 from {count} reviews" in body
    assert body.count('class="review__stars"') == 20


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


def test_a_new_review_waits_for_moderation_until_staff_publish_it(client, admin_client):
    product = ProductFactory()
    client.force_login(UserFactory())
    url = reverse("catalog:review", kwargs={"slug": product.slug})
    page = client.post(url, {"rating": "2", "title": "Not for me"}, follow=True)
    assert "your review awaits moderation" in page.content.decode()
    assert "Not for me" not in page.content.decode()
    assert "out of 5" not in page.content.decode()

    review = Review.objects.get(product=product)
    changelist = reverse("admin:catalog_review_changelist")
    admin_client.post(changelist, {"action": "publish", "_selected_action": [review.pk]})
    body = client.get(product.get_absolute_url()).content.decode()
    assert "Not for me" in body
    assert "2.0 out of 5 from 1 review" in body


def test_an_edited_review_waits_again(client):
    product = ProductFactory()
    user = UserFactory()
    ReviewFactory(product=product, user=user, title="Fine")
    client.force_login(user)
    client.post(reverse("catalog:review", kwargs={"slug": product.slug}), {"rating": "1", "title": "Rewritten"})
    review = Review.objects.get(product=product, user=user)
    assert (review.title, review.is_published) == ("Rewritten", False)


def test_the_review_form_is_csrf_protected():
    from django.test import Client

    product = ProductFactory()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(UserFactory())
    assert strict.post(reverse("catalog:review", kwargs={"slug": product.slug}), {"rating": "5"}).status_code == 403


@hypothesis_settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(pairs=pairs_of(("rating", "title", "body")))
@example(pairs=[("rating", b"5"), ("title", b"\x00")])
@example(pairs=[("rating", b"5"), ("body", b"x" * 5000)])
@example(pairs=[("rating", b"\xff\xfe")])
def test_any_review_gets_a_redirect_or_a_4xx(reviewer, pairs):
    client, product = reviewer
    response = client.post(
        reverse("catalog:review", kwargs={"slug": product.slug}),
        encoded(pairs),
        content_type="application/x-www-form-urlencoded",
    )
    assert_clean_answer(response, pairs)


@pytest.fixture
def reviewer(db):
    from django.test import Client

    client = Client(raise_request_exception=False)
    client.force_login(UserFactory())
    return client, ProductFactory()
