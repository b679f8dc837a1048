"""Factories of trained model versions and slot settings."""

import factory

from personalization.models import ModelVersion, SlotConfig


class ModelVersionFactory(factory.django.DjangoModelFactory):
    """A finished, serving training run (without an artifact: admin and settings checks read no model)."""

    class Meta:
        model = ModelVersion

    name = "itemknn"
    status = ModelVersion.Status.READY
    is_active = True
    seconds = 1.7


class SlotConfigFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SlotConfig
        django_get_or_create = ("slot",)

    slot = "home_recommended"
    title = "Popular now"
    algorithm = "recent"
