"""Product reviews: one per shopper and product, editable by its author."""

from django.contrib.auth.base_user import AbstractBaseUser

from ..models import Product, Review


def review_submit(*, product: Product, user: AbstractBaseUser, rating: int, title: str = "", body: str = "") -> Review:
    """Create the shopper's review of a product, or replace their earlier one."""
    if not 1 <= rating <= 5:
        raise ValueError("A rating is 1 to 5 stars.")
    review, _ = Review.objects.update_or_create(
        product=product, user=user, defaults={"rating": rating, "title": title.strip(), "body": body.strip()}
    )
    return review
