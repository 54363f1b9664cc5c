"""The ticket board on a phone (390 x 844, touch): one state's tickets at a time, chosen with a tab that says
how many tickets it has; on a desktop the seven columns side by side as before.

What was wrong before: on a phone the board was seven columns of 170 px side by side, one or two on the
screen and the rest a sideways swipe of the board away, with no way to see where the tickets were.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import DESKTOP, expect, opened_page, shot

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}
STATES = ["received", "triaged", "investigating", "action taken", "verifying", "closed", "reopened"]


@pytest.fixture(scope="module")
def board(served):
    """The scenario's received ticket, two triaged ones and one under investigation: {state: [numbers]}."""
    from alerts.tickets import move, open_ticket

    _, _, world, ctx = served
    now = ctx.alerts.clock()
    numbers: dict[str, list[str]] = {"received": [world.ticket], "triaged": [], "investigating": []}
    with ctx.session_factory.begin() as s:
        for i, (state, mode) in enumerate([("triaged", "imbalance"), ("triaged", "looseness"),
                                           ("investigating", "cage")]):
            t = open_ticket(s, ctx.alerts.config, now=now + i, failure_mode=mode, grade="major", device_id="P-0003",
                            title="on the board")
            move(s, t, "triaged", actor="ana", now=now + i + 1)
            if state == "investigating":
                move(s, t, "investigating", actor="ana", now=now + i + 2)
            numbers[state].append(t.number)
    return numbers


def _login(p, base, token):
    p.goto(f"{base}/ui/login")
    p.locator("#token").fill(token)
    p.locator("#login-button").click()
    p.wait_for_url(f"{base}/ui/")


def _shown_columns(p) -> list[str]:
    return p.locator("#board .column").evaluate_all(
        "cs => cs.filter((c) => c.getBoundingClientRect().height > 0).map((c) => c.dataset.column)")


def test_a_phone_shows_one_state_at_a_time_and_a_tab_switches_it(browser, served, board):
    base, tokens, world, _ = served
    with opened_page(browser, **PHONE) as p:
        _login(p, base, tokens["service"])
        p.goto(f"{base}/ui/tickets")
        tabs = p.locator("#board-states [role=tab]")
        expect(tabs).to_have_count(7)
        # each state with its count; the first open state with tickets is shown
        assert tabs.all_inner_texts() == [f"{s} {n}" for s, n in zip(STATES, [1, 2, 1, 0, 0, 0, 0])]
        expect(p.locator("#board-states [data-state=received]")).to_have_attribute("aria-selected", "true")
        assert _shown_columns(p) == ["received"]
        expect(p.locator(f".ticket[data-ticket='{world.ticket}']")).to_be_in_viewport()
        # the board fits the screen: nothing to swipe sideways, on the page or in the board
        assert p.evaluate("document.scrollingElement.scrollWidth") <= 390
        assert p.locator("#board").evaluate("(b) => b.scrollWidth <= b.clientWidth")
        shot(p, "phone-board-received", full_page=False)

        p.locator("#board-states [data-state=triaged]").tap()
        expect(p.locator("#board-states [data-state=triaged]")).to_have_attribute("aria-selected", "true")
        expect(p.locator("#board-states [data-state=received]")).to_have_attribute("aria-selected", "false")
        assert _shown_columns(p) == ["triaged"]
        for number in board["triaged"]:
            expect(p.locator(f".ticket[data-ticket='{number}']")).to_be_visible()
        expect(p.locator(f".ticket[data-ticket='{world.ticket}']")).to_be_hidden()
        shot(p, "phone-board-triaged", full_page=False)

        # an empty state says so (not a blank box)
        p.locator("#board-states [data-state=verifying]").tap()
        expect(p.locator("[data-column=verifying] .empty")).to_have_text("No tickets in this state.")
        p.locator("#board-states [data-state=triaged]").tap()

        # a ticket opens from its card; moved on, it leaves the tab and the counts follow
        number = board["triaged"][0]
        p.locator(f".ticket[data-ticket='{number}'] a.num").tap()
        expect(p.locator("#ticket-detail h2")).to_contain_text(number)
        expect(p.locator("#ticket-detail h2")).to_be_in_viewport()
        p.locator("#close-detail").tap()
        p.locator(f".ticket[data-ticket='{number}'] button[data-to=investigating]").tap()
        expect(p.locator("#board-states [data-state=investigating] .count")).to_have_text("2")
        expect(p.locator("#board-states [data-state=triaged] .count")).to_have_text("1")
        expect(p.locator("#board-states [data-state=triaged]")).to_have_attribute("aria-selected", "true")
        expect(p.locator(f".ticket[data-ticket='{number}']")).to_be_hidden()
        board["triaged"].remove(number)
        board["investigating"].append(number)

        # the tab chosen stays chosen through a reload (the ticket closed stays closed); a link to a ticket
        # shows its state's tab
        p.reload()
        expect(p.locator(f".ticket[data-ticket='{board['triaged'][0]}']")).to_be_visible()
        expect(p.locator("#ticket-detail")).to_be_hidden()
        expect(p.locator("#board-states [data-state=triaged]")).to_have_attribute("aria-selected", "true")
        assert _shown_columns(p) == ["triaged"]
        p.goto(f"{base}/ui/tickets#{number}")
        expect(p.locator("#ticket-detail h2")).to_contain_text(number)
        expect(p.locator("#board-states [data-state=investigating]")).to_have_attribute("aria-selected", "true")
        assert _shown_columns(p) == ["investigating"]
        assert p.js_errors == [], p.js_errors


def test_a_desktop_keeps_the_seven_columns_side_by_side(browser, served, board):
    base, tokens, world, _ = served
    with opened_page(browser, DESKTOP) as p:
        _login(p, base, tokens["service"])
        p.goto(f"{base}/ui/tickets")
        p.locator(f".ticket[data-ticket='{world.ticket}']").wait_for()
        expect(p.locator("#board-states")).to_be_hidden()
        assert _shown_columns(p) == ["received", "triaged", "investigating", "action_taken", "verifying", "closed",
                                     "reopened"]
        tops = p.locator("#board .column").evaluate_all("cs => cs.map((c) => Math.round(c.getBoundingClientRect().top))")
        assert len(set(tops)) == 1, tops  # one row
        assert p.locator("[data-column=triaged] h3").inner_text().lower() == f"triaged ({len(board['triaged'])})"
        expect(p.locator("#board .empty").first).to_be_hidden()
        shot(p, "desktop-board")
        assert p.js_errors == [], p.js_errors
