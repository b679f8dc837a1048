"""Product reviews: one per shopper and product, editable by its author, shown once staff publish them."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import timezone

from ..models import Product, Review
from ..snapshot import catalog_changed


def review_submit(
    *, product: Product, user: AbstractBaseUser, rating: int, title: str = "", body: str = "", publish: bool = False
) -> Review:
    """Create the shopper's review of a product, or replace their earlier one.

    It waits for moderation (publish=False) until staff publish it; an edited review waits again,
    or a published review could be rewritten into anything. publish=True is for reviews vouched
    for already (the demo's simulated shoppers).
    """
    if not 1 <= rating <= 5:
        raise ValueError("A rating is 1 to 5 stars.")
    review, _ = Review.objects.update_or_create(
        product=product,
        user=user,
        defaults={"rating": rating, "title": title.strip(), "body": body.strip(), "is_published": publish},
    )
    return review


def reviews_publish(*, reviews: QuerySet[Review], published: bool = True) -> int:
    """Publish (or hide again) these reviews; returns how many changed."""
    changed = reviews.exclude(is_published=published).update(is_published=published, updated_at=timezone.now())
    if changed:
        catalog_changed()
    return changed
