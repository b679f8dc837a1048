"""Slot settings in admin: a slot cannot be set to what would serve nothing of its own, and is told why."""

import pytest
from django.urls import reverse

from personalization.models import ModelVersion, SlotConfig

pytestmark = pytest.mark.django_db


def _trained(name: str) -> None:
    ModelVersion.objects.create(name=name, status=ModelVersion.Status.READY, is_active=True)


@pytest.fixture
def slot():
    return SlotConfig.objects.create(slot="home_recommended", title="Popular now", algorithm="recent")


def _change(staff_client, slot: SlotConfig, **changes):
    fields = {
        "slot": slot.slot,
        "title": slot.title,
        "algorithm": slot.algorithm,
        "size": slot.size,
        "is_active": "on",
        "weight_collaborative": slot.weight_collaborative,
        "weight_content": slot.weight_content,
        "weight_recency": slot.weight_recency,
        "weight_popularity": slot.weight_popularity,
        "diversity": slot.diversity,
        "epsilon": slot.epsilon,
        **changes,
    }
    return staff_client.post(reverse("admin:personalization_slotconfig_change", args=[slot.pk]), fields)


def test_an_algorithm_without_a_trained_version_is_refused_with_why(staff_client, slot):
    response = _change(staff_client, slot, algorithm="ease")
    assert response.status_code == 200
    assert "“ease” has no trained version yet" in response.content.decode()
    assert SlotConfig.objects.get(pk=slot.pk).algorithm != "ease"
    _trained("ease")
    assert _change(staff_client, slot, algorithm="ease").status_code == 302
    assert SlotConfig.objects.get(pk=slot.pk).algorithm == "ease"


def test_a_hybrid_blend_with_every_weight_at_zero_is_refused(staff_client, slot):
    _trained("itemknn")
    zero = {"weight_collaborative": 0, "weight_content": 0, "weight_recency": 0, "weight_popularity": 0}
    response = _change(staff_client, slot, algorithm="hybrid", **zero)
    assert "with all at zero it blends nothing" in response.content.decode()
    assert _change(staff_client, slot, algorithm="hybrid", **{**zero, "weight_collaborative": 1}).status_code == 302


def test_the_change_list_rows_are_checked_too(staff_client, slot):
    response = staff_client.post(
        reverse("admin:personalization_slotconfig_changelist"),
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": slot.pk,
            "form-0-title": slot.title,
            "form-0-algorithm": "ease",
            "form-0-size": slot.size,
            "form-0-diversity": slot.diversity,
            "form-0-epsilon": slot.epsilon,
            "form-0-is_active": "on",
            "_save": "Save",
        },
    )
    assert "“ease” has no trained version yet" in response.content.decode()
    assert SlotConfig.objects.get(pk=slot.pk).algorithm != "ease"
