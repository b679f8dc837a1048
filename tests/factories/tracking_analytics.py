"""Factories of the analytics kept beside the event record: funnels, their steps, volume alerts."""

from datetime import timedelta

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from tracking.models import Funnel, FunnelStep, VolumeAlert


class FunnelFactory(DjangoModelFactory):
    class Meta:
        model = Funnel
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Funnel {n}")
    window = timedelta(days=1)

    @factory.post_generation
    def steps(obj, create, extracted, **kwargs):
        """FunnelFactory(steps=["view_item", "add_to_cart"]) adds those steps in that order."""
        for position, name in enumerate(extracted or [], start=1):
            FunnelStepFactory(funnel=obj, position=position, event_name=name)


class FunnelStepFactory(DjangoModelFactory):
    class Meta:
        model = FunnelStep

    funnel = factory.SubFactory(FunnelFactory)
    position = factory.Sequence(lambda n: n + 1)
    event_name = "view_item"


class VolumeAlertFactory(DjangoModelFactory):
    class Meta:
        model = VolumeAlert

    hour = factory.LazyFunction(lambda: timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1))
    name = "page_view"
    kind = VolumeAlert.Kind.DROP
    observed = 3
    expected = 120.0
    score = -9.5
