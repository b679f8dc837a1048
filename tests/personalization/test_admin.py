"""Personalization admin: a slot cannot be set to what would serve nothing of its own and is told why,
its history says what each setting was before, and model versions read as a person reads them."""

import re

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from personalization.models import SlotConfig
from tests.factories.personalization import ModelVersionFactory, SlotConfigFactory
from tracking.analytics.dates import run_time_text

pytestmark = pytest.mark.django_db


def _trained(name: str) -> None:
    ModelVersionFactory(name=name)


@pytest.fixture
def slot():
    return SlotConfigFactory()


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


def _history(staff_client, slot: SlotConfig) -> str:
    return staff_client.get(reverse("admin:personalization_slotconfig_history", args=[slot.pk])).content.decode()


def test_the_history_shows_each_changed_setting_before_and_after(staff_client, slot):
    assert _change(staff_client, slot, diversity=0.8, title="Picked for you", is_active="").status_code == 302
    history = _history(staff_client, slot)
    assert "Diversity from 0.3 to 0.8" in history  # the model default before
    assert "Title from “Popular now” to “Picked for you”" in history
    assert "Is active from yes to no" in history
    assert "Epsilon" not in history  # unchanged settings are not listed


def test_a_change_list_edit_is_recorded_before_and_after_too(staff_client, slot):
    staff_client.post(
        reverse("admin:personalization_slotconfig_changelist"),
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": slot.pk,
            "form-0-title": slot.title,
            "form-0-algorithm": slot.algorithm,
            "form-0-size": 12,
            "form-0-diversity": slot.diversity,
            "form-0-epsilon": slot.epsilon,
            "form-0-is_active": "on",
            "_save": "Save",
        },
    )
    assert SlotConfig.objects.get(pk=slot.pk).size == 12
    assert "Size from 8 to 12" in _history(staff_client, slot)


def test_model_versions_show_training_time_as_a_person_reads_it(staff_client):
    ModelVersionFactory(seconds=1.7, is_active=False)
    slow = ModelVersionFactory(seconds=125.2)
    listing = staff_client.get(reverse("admin:personalization_modelversion_changelist")).content.decode()
    assert "1.7 s" in listing and "2 min 5 s" in listing
    assert "125.2" not in listing
    detail = staff_client.get(reverse("admin:personalization_modelversion_change", args=[slow.pk])).content.decode()
    assert "2 min 5 s" in detail and "Training time" in detail


def test_run_times_read_at_their_scale():
    assert run_time_text(0.034) == "34 ms"
    assert run_time_text(1.7) == "1.7 s"
    assert run_time_text(59.94) == "59.9 s"
    assert run_time_text(120) == "2 min"
    assert run_time_text(125.2) == "2 min 5 s"
    assert run_time_text(3 * 3600 + 5 * 60 + 9) == "3 h 5 min"


@given(st.floats(min_value=1, max_value=3599))
def test_a_run_time_under_an_hour_reads_back_within_its_rounding(seconds):
    text = run_time_text(seconds)
    assert not text.endswith(" ms")
    minutes = re.fullmatch(r"(\d+) min(?: (\d+) s)?", text)
    read = int(minutes[1]) * 60 + int(minutes[2] or 0) if minutes else float(text.removesuffix(" s"))
    # Half the last digit shown, and a float's own error on top (1.25 is shown as 1.2).
    assert abs(read - seconds) <= (0.5 if minutes else 0.05) + 1e-9
