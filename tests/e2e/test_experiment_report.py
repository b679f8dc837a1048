"""The experiment report in a browser: the cumulative lift drawn in its band, the device table."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.e2e.test_admin_charts import PHONE, _errors, _log_in
from tests.experiments.test_bandits import bandit
from tests.experiments.test_bandits import exposed as bandit_exposed
from tests.experiments.test_report import exposed, purchase, started

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_report_draws_the_cumulative_lift_with_its_interval(live_server, page, shot):
    start = timezone.now() - timedelta(days=8, hours=2)
    experiment = started(at=start, primary_metric="conversion", guardrails=["revenue", "aov"])
    rng = random.Random(3)
    for day in range(8):
        at = start + timedelta(days=day, hours=1)
        for variant, rate in (("control", 0.10), ("treatment", 0.14)):
            buyers = sum(rng.random() < rate for _ in range(150))
            device = rng.choice(["mobile", "desktop"])
            exposed(experiment, variant, buyers, at=at, then=[purchase(rng.choice([20.0, 35.0, 60.0]))], device=device,
                    before=[purchase(30.0)] * (day % 2))  # fmt: skip
            exposed(experiment, variant, 150 - buyers, at=at, device=device)
    errors = _errors(page)
    _log_in(page, live_server)
    page.goto(live_server.url + f"/admin/experiments/experiment/{experiment.pk}/report/")
    lift = page.locator("figure.chart-drawn", has_text="Cumulative lift of treatment")
    lift.wait_for()
    text = lift.locator(".chart-canvas svg").text_content()
    assert "Estimate" in text and "Interval" in text
    lift.scroll_into_view_if_needed()
    box = lift.locator(".chart-canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5)
    # the tooltip is drawn inside the chart's own SVG (richText), with the day's interval
    for _ in range(20):
        if "Interval: " in lift.locator(".chart-canvas svg").text_content():
            break
        page.wait_for_timeout(100)
    assert "Interval: " in lift.locator(".chart-canvas svg").text_content()
    assert page.locator("caption", has_text="by device").is_visible()
    assert page.locator("tr.cuped").count() == 1
    shot(page, "report-desktop")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)
    assert lift.locator(".chart-canvas").bounding_box()["width"] <= PHONE["width"]
    shot(page, "report-phone")
    assert errors == []


def test_a_bandits_report_draws_its_shares_and_weighted_estimates(live_server, page, shot):
    experiment = bandit()
    experiment.bandit_shares = {"configured": 0.2, "popular": 0.8}
    experiment.save(update_fields=["bandit_shares"])
    bandit_exposed(experiment, "configured", 200, clicks=12, propensity=0.2)
    bandit_exposed(experiment, "popular", 800, clicks=72, propensity=0.8)
    bandit_exposed(experiment, "configured", 120, clicks=6, policy="split")
    bandit_exposed(experiment, "popular", 120, clicks=11, policy="split")
    errors = _errors(page)
    _log_in(page, live_server)
    page.goto(live_server.url + f"/admin/experiments/experiment/{experiment.pk}/report/")
    page.locator("figure.chart-drawn", has_text="inverse-propensity weighted").wait_for()
    assert page.locator("caption", has_text="by arm").is_visible()
    shot(page, "bandit-desktop")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)
    shot(page, "bandit-phone")
    assert errors == []
