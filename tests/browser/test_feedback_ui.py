"""Field feedback on the dashboard: the ticket's history says what each verdict found, what it replaced,
the unit's threshold factor after it and a withdrawal's reason (it said only "t-service: feedback"); a
verdict is withdrawn from the detail panel with a reason; the unit page says how much feedback raised
its detector thresholds; the Reports page shows the failures found on site beside the tickets.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import expect, shot
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def _record(page, finding: str, *, what: str = "", cause: str = "") -> None:
    form = page.locator("#feedback-form")
    form.locator("select[name=finding]").select_option(finding)
    if what:
        form.locator("input[name=what]").fill(what)
    if cause:
        form.locator("input[name=cause]").fill(cause)
    form.locator("button").click()


def test_feedback_history_withdrawal_unit_factor_and_failures_found(page, served):
    base, tokens, world, _ = served
    login(page, base, tokens["service"])
    page.goto(f"{base}/ui/tickets#{world.ticket}")
    summary, audit = page.locator("#feedback-summary"), page.locator("#audit")
    expect(summary).to_have_text("feedback: –")
    expect(page.locator("#withdraw-form")).to_have_count(0)  # nothing to withdraw yet
    # no fault: the "which fault" choice is hidden, the "what was it" field asks what it was instead
    page.select_option("#feedback-form select[name=finding]", "no_fault")
    expect(page.locator("#feedback-form select[name=mode]")).to_be_hidden()
    expect(page.locator("#feedback-form input[name=what]")).to_be_visible()
    _record(page, "no_fault", what="sensor loose", cause="bracket screw")
    expect(summary).to_have_text("feedback: no fault found (sensor loose)")
    expect(audit.locator("li[data-action='feedback']")).to_contain_text(
        "t-service: feedback: no fault found (sensor loose) · cause: bracket screw · detector thresholds raised ×1.1")

    # the unit page says what that did to the unit's detectors
    page.goto(f"{base}/ui/unit?id={world.failing}")
    expect(page.locator("#detector-thresholds")).to_have_text(
        "Field feedback: detector thresholds raised ×1.1 after 1 false alarm in 90 days")

    # typed over: the history says what the new verdict replaced
    page.goto(f"{base}/ui/tickets#{world.ticket}")
    expect(summary).to_have_text("feedback: no fault found (sensor loose)")
    _record(page, "as_warned")
    expect(summary).to_have_text("feedback: fault as warned (outer race)")
    expect(audit.locator("li[data-action='feedback']").nth(1)).to_contain_text(
        "t-service: feedback: fault as warned (outer race) · replaced: no fault found (sensor loose) (t-service)"
        " · detector thresholds unchanged (×1)")

    # withdrawn with a reason, which the history keeps with what was withdrawn
    withdraw = page.locator("#withdraw-form")
    withdraw.locator("input[name=reason]").fill("recorded on the wrong ticket")
    withdraw.locator("button").click()
    expect(summary).to_have_text("feedback: –")
    expect(audit.locator("li[data-action='feedback_withdrawn']")).to_contain_text(
        "t-service: feedback withdrawn: fault as warned (outer race) · reason: recorded on the wrong ticket"
        " · detector thresholds unchanged (×1)")
    expect(page.locator("#withdraw-form")).to_have_count(0)
    shot(page, "feedback-history")

    # a different fault: the Reports page shows it beside the tickets
    _record(page, "different_fault")  # the first fault offered that is not the one warned of
    expect(summary).to_have_text("feedback: a different fault: inner race")
    page.goto(f"{base}/ui/reports")
    page.locator("#pareto-found .u-over").hover()
    expect(page.locator("#pareto-found .u-legend")).to_contain_text("inner race")
    # each chart names what its bars count (the failures chart's legend said "tickets")
    expect(page.locator("#pareto-found .u-legend .u-series").nth(1)).to_contain_text("failures")
    expect(page.locator("#pareto .u-legend .u-series").nth(1)).to_contain_text("tickets")
    row = page.locator(f"#top5 tr[data-key='{world.failing}'] td")
    expect(row.nth(2)).to_have_text("1")  # tickets
    expect(row.nth(3)).to_have_text("1")  # failures found
    assert [e for e in page.js_errors if "404" not in e] == [], page.js_errors


def test_a_viewer_sees_the_feedback_but_cannot_withdraw_it(page, served):
    base, tokens, world, _ = served
    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/tickets#{world.ticket}")
    expect(page.locator("#audit li").first).to_be_visible()
    expect(page.locator("#feedback-form")).to_have_count(0)
    expect(page.locator("#withdraw-form")).to_have_count(0)
