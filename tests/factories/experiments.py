"""Factories of experiments and their variants."""

import factory

from experiments.models import Experiment, Variant


class ExperimentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Experiment

    name = factory.Sequence(lambda n: f"Experiment {n}")
    slot = "home_recommended"


class VariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Variant

    experiment = factory.SubFactory(ExperimentFactory)
    key = factory.Sequence(lambda n: f"v{n}")


def ab_experiment(*, treatment_kind: str = Variant.Kind.NEWEST, **fields) -> Experiment:
    """A draft 50/50 test of the slot as configured against one treatment."""
    experiment = ExperimentFactory(**fields)
    VariantFactory(experiment=experiment, key="control", is_control=True, weight=50)
    VariantFactory(experiment=experiment, key="treatment", weight=50, kind=treatment_kind)
    return experiment
