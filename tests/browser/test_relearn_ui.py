"""A unit's detector baseline relearnt from the unit page (POST /api/v1/units/{id}/relearn): a service team uses
the dashboard, not the CLI. An engineer gets **Relearn baseline…** with the two uses in plain words (after a
repair; the current bearing lines are this unit's normal) and a reason the page asks for; the page then shows
the request (who, when, why) and, once the detectors apply it, that the baseline is being learnt. A viewer
gets no control. Refusals (a decommissioned unit) are said in the page's error box.

Before: the unit page had no such control (relearning needed `foreshock devices relearn` on the server).
"""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from tests.browser.conftest import expect, opened_page, shot
from tests.browser.test_dashboard import login
from tests.browser.test_small_screens import DEVICES, _fits, _inside
from tests.browser.test_unit_page import save_health

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def _detail(base: str, token: str, device_id: str) -> dict:
    r = httpx.get(f"{base}/api/v1/units/{device_id}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    r.raise_for_status()
    return r.json()


def _unit(ctx, device_id: str) -> str:
    ctx.registry.create_unit(device_id, model="P-200", customer="ACME", site="Bremen")
    return device_id


def _head_loaded(p) -> None:
    """Wait for the unit's head, filled above the relearn panel when GET /units/{id} answers: a tap aimed at
    the relearn button while the head fills lands where the button was (on the head), and the form stays
    hidden (CI, tablet: the form was never shown)."""
    expect(p.locator("#unit-head h1")).to_be_visible()
    expect(p.locator("#relearn-request")).not_to_be_empty()


def test_an_engineer_relearns_a_unit_from_its_page_and_the_page_shows_the_request(page, served):
    from detectors.types import Assessment

    base, tokens, _, ctx = served
    unit = _unit(ctx, "P-0311")
    login(page, base, tokens["engineer"])
    page.goto(f"{base}/ui/unit?id={unit}")
    opener, form = page.locator("#relearn-open"), page.locator("#relearn-form")
    expect(opener).to_have_text("Relearn baseline…")
    expect(form).to_be_hidden()
    expect(page.locator("#relearn-request")).to_have_text("No relearn of this unit's baseline has been asked for.")
    opener.click()
    expect(form).to_be_visible()
    expect(form).to_contain_text("after a repair or part change: learn this unit's normal again")
    expect(form).to_contain_text("the current bearing lines are this unit's normal (a technician found no fault)")

    # a missing reason (or only blanks) is refused by the page: nothing is sent
    form.locator("input[value=accept]").check()
    form.locator("input[name=reason]").fill("   ")
    form.locator("#relearn-submit").click()
    expect(page.locator("main > .error[role=alert]")).to_contain_text("reason: say why")
    expect(form).to_be_visible()
    assert _detail(base, tokens["viewer"], unit)["relearn"] is None

    # the right body is posted, and the page shows the request as the unit detail has it
    form.locator("input[name=reason]").fill("frame resonance, bearing checked: no fault")
    form.locator("#relearn-submit").click()
    expect(form).to_be_hidden()
    asked = page.locator("#relearn-request")
    expect(asked).to_contain_text("Relearn asked by t-engineer on ")
    expect(asked).to_contain_text(": frame resonance, bearing checked: no fault · the current bearing lines accepted "
                                  "as this unit's normal")
    expect(asked).to_contain_text("the detectors apply it with the unit's next message")
    relearn = _detail(base, tokens["viewer"], unit)["relearn"]
    assert relearn["accept_current"] is True and relearn["by"] == "t-engineer"
    assert relearn["reason"] == "frame resonance, bearing checked: no fault"
    when = datetime.fromisoformat(relearn["requested_at"]).strftime("%Y-%m-%d %H:%M UTC")
    expect(asked).to_contain_text(f"on {when}")
    shot(page, "relearn-asked")

    # once the detectors applied it, the unit's health says it learns (first reason), and so does the line
    note = "relearn requested by t-engineer: frame resonance, bearing checked: no fault (the defect lines it shows " \
           "now accepted as its normal)"
    save_health(ctx, unit, Assessment(ts=datetime.now().timestamp(), state="healthy",
                                      reasons=[note, "learning baseline (2/12)"]))
    page.reload()
    expect(page.locator("#reasons")).to_contain_text("learning baseline (2/12)")
    expect(asked).to_contain_text("applied: the baseline is being learnt (see the reasons above)")

    # a plain relearn after a repair, asked again: the newer request replaces the shown one
    page.locator("#relearn-open").click()
    form.locator("input[value=repair]").check()
    form.locator("input[name=reason]").fill("new bearing fitted")
    form.locator("#relearn-submit").click()
    expect(asked).to_contain_text(": new bearing fitted · learn this unit's normal again")
    relearn = _detail(base, tokens["viewer"], unit)["relearn"]
    assert relearn["accept_current"] is False and relearn["reason"] == "new bearing fitted"
    # the unit has sent no snapshot: its spectrum is a 404, said in its panel
    assert [e for e in page.js_errors if "404" not in e] == [], page.js_errors


def test_a_viewer_sees_the_request_but_gets_no_control(page, served):
    base, tokens, _, ctx = served
    unit = _unit(ctx, "P-0312")
    ctx.registry.request_relearn(unit, reason="realigned", by="alice")
    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/unit?id={unit}")
    expect(page.locator("#relearn-request")).to_contain_text("Relearn asked by alice on ")
    expect(page.locator("#relearn-request")).to_contain_text(": realigned · learn this unit's normal again")
    assert page.locator("#relearn-open").count() == 0 and page.locator("#relearn-form").count() == 0
    # nothing asked: no panel at all for a viewer
    page.goto(f"{base}/ui/unit?id=P-0002")
    expect(page.locator("#why")).to_be_visible()
    expect(page.locator("#relearn")).to_be_hidden()
    assert page.locator("#relearn-open").count() == 0
    assert [e for e in page.js_errors if "404" not in e] == [], page.js_errors


@pytest.mark.parametrize("name", list(DEVICES))
def test_the_relearn_form_fits_a_phone_and_a_tablet(browser, served, name):
    base, tokens, world, _ = served
    spec = DEVICES[name]
    width = spec["viewport"]["width"]
    with opened_page(browser, spec["viewport"], device_scale_factor=spec["device_scale_factor"],
                     is_mobile=True, has_touch=True) as p:
        login(p, base, tokens["engineer"])
        p.goto(f"{base}/ui/unit?id={world.failing}")
        _head_loaded(p)
        p.locator("#relearn-open").tap()
        form = p.locator("#relearn-form")
        expect(form).to_be_visible()
        form.locator("input[value=repair]").tap()
        expect(form.locator("input[value=repair]")).to_be_checked()
        shot(p, f"{name}-relearn-form")
        _fits(p, f"{name} relearn form", width)
        for part in ("#relearn-form fieldset", "#relearn-form input[name=reason]", "#relearn-submit", "#relearn-cancel"):
            _inside(p, part, width)
        p.locator("#relearn-cancel").tap()
        expect(form).to_be_hidden()
        assert p.js_errors == [], p.js_errors


def test_a_refused_relearn_is_said_in_the_error_box(page, served):
    base, tokens, _, ctx = served
    unit = _unit(ctx, "P-0313")
    login(page, base, tokens["engineer"])
    page.goto(f"{base}/ui/unit?id={unit}")
    _head_loaded(page)
    page.locator("#relearn-open").click()
    form = page.locator("#relearn-form")
    form.locator("input[name=reason]").fill("new bearing fitted")
    form.locator("#relearn-submit").click()  # no choice made: the page asks for one
    expect(page.locator("main > .error[role=alert]")).to_contain_text("choose what the relearn is for")
    ctx.registry.decommission(unit)  # meanwhile, elsewhere: the API refuses (400)
    form.locator("input[value=repair]").check()
    form.locator("#relearn-submit").click()
    refused = page.locator("main > .error[role=alert]", has_text="was decommissioned")
    expect(refused).to_contain_text(f"unit '{unit}' was decommissioned on ")
    expect(form).to_be_visible()  # kept as typed, to send again later
    expect(form.locator("input[name=reason]")).to_have_value("new bearing fitted")
    assert _detail(base, tokens["viewer"], unit)["relearn"] is None
    # a lost connection: said, and the form kept
    page.route("**/api/v1/units/*/relearn", lambda route: route.abort())
    form.locator("#relearn-submit").click()
    expect(page.locator("main > .error[role=alert]", has_text="relearn not sent: ")).to_have_count(1)
    expect(form.locator("input[value=repair]")).to_be_checked()
    assert [e for e in page.js_errors if not any(c in e for c in ("400", "404", "ERR_FAILED"))] == [], page.js_errors
