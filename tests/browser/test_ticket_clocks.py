"""A ticket's SLA clock on the board counts down every second; it turned orange within the hour and red
once overdue only when the board was drawn again: a response deadline that passed while the board was
open (a screen on the quality office's wall) counted "respond overdue 12m" in black. The browser's clock
is moved on by Playwright, not waited for."""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.conftest import expect
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_a_clock_that_runs_out_on_an_open_board_turns_red(page, served):
    base, tokens, world, ctx = served
    t = ctx.alerts.get_ticket(world.ticket)
    assert t["responded_at"] is None and t["grade"] == "critical"  # its response clock runs, 2 h
    page.clock.install(time=time.time())
    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/tickets")
    clock = page.locator(f"#{world.ticket} .clock")
    expect(clock).to_have_text(re.compile(r"^respond in 1h \d+m$"))
    expect(clock).to_have_class("clock")
    page.clock.fast_forward("01:00:00")
    expect(clock).to_have_text(re.compile(r"^respond in \d+m \d+s$"))
    expect(clock).to_have_class("clock soon")
    page.clock.fast_forward("01:10:00")
    expect(clock).to_have_text(re.compile(r"^respond overdue \d+m \d+s$"))
    expect(clock).to_have_class("clock late")
    assert page.js_errors == [], page.js_errors
