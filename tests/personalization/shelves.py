"""A catalogue whose shelves have something to show: twenty products, the first ten added to carts
(the tenth most), popularity and trending trained on them, slot settings published."""

import uuid

from django.utils import timezone

from personalization.serving import slots_publish
from personalization.training import model_train
from tests.factories.catalog import CategoryFactory, ProductFactory
from tests.factories.tracking import EventFactory


def trained_shop() -> list:
    kitchen = CategoryFactory(name="Kitchen")
    products = ProductFactory.create_batch(20, category=kitchen)
    now = timezone.now()
    for index, product in enumerate(products[:10]):
        for _ in range(index + 1):
            EventFactory(
                visitor_id=uuid.uuid4(), name="add_to_cart", source="server", product_id=product.pk, client_ts=now
            )
    for name in ("popularity", "trending"):
        model_train(name=name)
    slots_publish()
    return products
