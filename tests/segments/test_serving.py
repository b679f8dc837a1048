"""A visitor's segments reach the page in its one pipelined round trip: the context, the tag, the stages."""

import pytest
from django.template import Context, Template
from django.urls import reverse

from personalization.serving.state import state_read
from tests.factories.catalog import ProductFactory
from tests.factories.segments import SegmentFactory
from tests.factories.tracking import RawEventFactory

pytestmark = pytest.mark.django_db


class SeenSegments:
    """A stage that only notes the segments it was shown, as a merchandising rule would read them."""

    name = "seen"
    seen: list = []

    def apply(self, page) -> None:
        SeenSegments.seen.append(page.state.segments)


def test_the_segments_a_visitor_enters_are_on_the_next_page(client, settings, redis_round_trips):
    ProductFactory.create_batch(6)
    SegmentFactory(slug="lookers", definition={"event": "view_item", "within": "30m"})
    settings.PERSONALIZATION_SLOT_STAGES = [
        *settings.PERSONALIZATION_SLOT_STAGES,
        "tests.segments.test_serving.SeenSegments",
    ]
    SeenSegments.seen = []
    client.post(reverse("tracking:consent"), {"choice": "granted"})
    assert client.get(reverse("home")).context["segments"] == frozenset()
    client.post(
        reverse("tracking:collect"),
        data={"events": [RawEventFactory(name="view_item", product_id=1)]},
        content_type="application/json",
        HTTP_ORIGIN="http://testserver",
    )
    client.get(reverse("home"))  # warm the model snapshots
    redis_round_trips.clear()
    response = client.get(reverse("home"))
    assert response.context["segments"] == frozenset({"lookers"})
    assert SeenSegments.seen[-1] == frozenset({"lookers"})
    # The session and one pipeline, as before segments: they ride in the profile's round trip.
    assert len(redis_round_trips) <= 2, f"{len(redis_round_trips)} round trips"


def test_state_without_an_owner_has_no_segments():
    assert state_read(None).segments == frozenset()


def test_the_template_tag_tells_whether_the_visitor_is_in_a_segment():
    template = Template(
        '{% load personalization %}{% in_segment "lookers" as looking %}{% if looking %}hello again{% endif %}'
    )
    assert template.render(Context({"segments": frozenset({"lookers"})})) == "hello again"
    assert template.render(Context({"segments": frozenset()})) == ""
