"""A unit page opened with its serial in another letter case (`/ui/unit?id=p-0001`, typed by a technician
or in a link): the API finds unit P-0001, but the live events name P-0001 and the page compared them with
"p-0001", so it never followed the unit's new assessments, alerts or tickets. The page now goes on under
the serial as registered."""

from __future__ import annotations

import json

import pytest

from tests.browser.conftest import expect
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_a_unit_page_opened_in_lower_case_follows_the_units_health(page, served):
    from foreshock.models import DetectorState

    base, tokens, world, ctx = served
    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/unit?id={world.failing.lower()}")
    expect(page.locator("#unit-head h1")).to_contain_text(f"Unit {world.failing}")
    expect(page.locator("#ttf")).to_have_text("4d 23h")  # 5 days as of a minute before the scenario was seeded
    expect(page.locator("#live")).to_have_text("● live")

    with ctx.session_factory.begin() as s:  # a new assessment of the unit is saved: two days left
        row = s.get(DetectorState, world.failing)
        a = json.loads(row.assessment_json)
        a.update(ttf_s=2 * 86400, ttf_low_s=86400, ttf_high_s=3 * 86400)
        row.assessment_json = json.dumps(a)
    ctx.events.publish("health", {"units": 1, "device_ids": [world.failing],
                                  "states": {world.failing: "alarm"}})
    expect(page.locator("#ttf")).to_have_text("1d 23h")  # 2 days as of the same data
    assert page.url.endswith(f"/ui/unit?id={world.failing}")  # a reload or a link copied is as registered
    assert page.js_errors == [], page.js_errors
