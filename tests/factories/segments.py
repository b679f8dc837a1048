"""Factories of segments."""

import factory
from factory.django import DjangoModelFactory

from segments.models import Segment


class SegmentFactory(DjangoModelFactory):
    class Meta:
        model = Segment
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"segment-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").capitalize())
    definition = factory.LazyFunction(lambda: {"event": "view_item", "within": "1h"})
