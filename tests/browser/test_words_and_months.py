"""Codes read as words on every page, and the Reports page opens on the month it is in the report's
time zone.

The Alerts page, the ticket cards, the detail panel, its 8D record and the Reports page showed
`outer_race`, the Fleet and Unit pages `outer race`; a ticket's status showed as `action_taken` on
its buttons, in its history and on the unit page. The monthly report opened on the browser's UTC
month, not on the month of `alerts.report_timezone`: the wrong month for hours around the first.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from tests.browser.conftest import expect, opened_page, shot
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

CODE = re.compile(r"\b(outer_race|action_taken|false_alarm|customer_followup|8d_updated)\b")


def _no_codes(page, where: str) -> None:
    text = page.locator(where).inner_text()
    assert not CODE.search(text), f"{where} shows a raw code: {CODE.search(text).group(0)!r} in {text!r}"


def test_failure_modes_and_statuses_read_as_words_on_every_page(page, served):
    base, tokens, world, ctx = served
    login(page, base, tokens["service"])

    page.goto(f"{base}/ui/")
    expect(page.locator(f"#units tr[data-unit='{world.failing}'] td").nth(2)).to_have_text("outer race")

    page.goto(f"{base}/ui/alerts")
    expect(page.locator(f"#alerts tr[data-unit='{world.failing}'] td").nth(4)).to_have_text("outer race")
    _no_codes(page, "#alerts")

    page.goto(f"{base}/ui/tickets#{world.ticket}")
    card = page.locator(f"#board [data-ticket='{world.ticket}']")
    expect(card).to_contain_text(f"{world.failing} · outer race")
    detail = page.locator("#ticket-detail")
    expect(detail.locator("h2")).to_have_text(f"{world.ticket} · {world.failing} · outer race")
    what = page.locator("#eight-d li[data-d='D2'] [data-group='What']")
    expect(what.locator("tr[data-field='failure_mode'] td")).to_have_text("outer race")
    # a status of two words: its column, its buttons, the detail and the history
    for to in ("triaged", "investigating"):
        card.locator(f"button[data-to='{to}']").click()
        expect(page.locator(f"[data-column='{to}'] [data-ticket='{world.ticket}']")).to_have_count(1)
    expect(card.locator("button[data-to='action_taken']")).to_have_text("→ action taken")
    card.locator("button[data-to='action_taken']").click()
    expect(page.locator("[data-column='action_taken'] h3")).to_have_text("action taken (1)")
    expect(detail).to_contain_text("status action taken")
    expect(page.locator("#audit")).to_contain_text("t-service: moved → action taken")
    # the finding is an explicit choice: a different fault, which one (not "false alarm, found: inner race")
    expect(page.locator("#feedback-form select[name=finding] option").first).to_have_text(
        "the fault warned of (outer race)")
    page.select_option("#feedback-form select[name=finding]", "different_fault")
    page.select_option("#feedback-form select[name=mode]", "inner_race")
    page.click("#feedback-form button")
    expect(page.locator("#feedback-summary")).to_have_text("feedback: a different fault: inner race")
    expect(page.locator("#audit li[data-action='feedback']")).to_contain_text(
        "t-service: feedback: a different fault: inner race")
    _no_codes(page, "main")
    shot(page, "words-ticket")

    page.goto(f"{base}/ui/unit?id={world.failing}")
    row = page.locator(f"#unit-tickets tr[data-ticket='{world.ticket}'] td")
    expect(row.nth(1)).to_have_text("action taken")
    expect(row.nth(3)).to_have_text("outer race")

    page.goto(f"{base}/ui/reports")
    page.locator("#monthly-sla").wait_for()
    expect(page.locator("#monthly-top5")).to_have_text("TOP-5 failure modes warned of (tickets): outer race (1)")
    expect(page.locator("#monthly-failures")).to_have_text("TOP-5 failures found on site (1 in all): inner race (1)")
    # the Pareto charts' legends name the hovered bar: what was warned of, and what was found
    page.locator("#pareto .u-over").hover()
    expect(page.locator("#pareto .u-legend")).to_contain_text("outer race")
    page.locator("#pareto-found .u-over").hover()
    expect(page.locator("#pareto-found .u-legend")).to_contain_text("inner race")
    _no_codes(page, "main")
    assert [e for e in page.js_errors if "404" not in e] == [], page.js_errors


def test_the_unit_trends_name_their_lines_in_words(page, served):
    """The legends named the lines by their feature names: velocity_rms_mm_s, env_kurtosis, bpfo_db."""
    base, tokens, world, _ = served
    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/unit?id={world.failing}")
    legends = {}
    for chart in ("velocity", "kurtosis", "envelope-peaks"):
        page.locator(f"#chart-{chart} .u-legend").wait_for()
        legends[chart] = page.locator(f"#chart-{chart} .u-legend .u-series .u-label").all_text_contents()[1:]
    assert legends == {"velocity": ["velocity RMS"], "kurtosis": ["kurtosis", "envelope kurtosis"],
                       "envelope-peaks": ["BPFO"]}, legends


def test_the_formatter_leaves_what_someone_wrote_as_written(page, served):
    base, tokens, _, _ = served
    login(page, base, tokens["viewer"])
    got = page.evaluate("""async () => { const { words } = await import("/static/js/common.js");
      return ["outer_race", "inner_race", "8d_updated", "follow_up", "other: shaft_key sheared", "(none)", null]
        .map(words); }""")
    assert got == ["outer race", "inner race", "8D updated", "follow-up", "other: shaft_key sheared", "(none)", "–"]


@pytest.mark.parametrize(("zone", "now", "browser_zone", "month", "period"), [
    # 23:30 UTC on 31 October is 00:30 on 1 November in Berlin
    ("Europe/Berlin", "2026-10-31T23:30:00+00:00", "UTC", "2026-11",
     "2026-11-01 00:00 +01:00 to 2026-12-01 00:00 +01:00 (Europe/Berlin)"),
    # 02:00 UTC on 1 November is still October in New York (and already November in the browser's Tokyo)
    ("America/New_York", "2026-11-01T02:00:00+00:00", "Asia/Tokyo", "2026-10",
     "2026-10-01 00:00 -04:00 to 2026-11-01 00:00 -04:00 (America/New_York)"),
])
def test_the_monthly_report_opens_on_the_current_month_of_the_report_zone(browser, served, monkeypatch,
                                                                          zone, now, browser_zone, month, period):
    """The month is the server's: the browser's clock is set months off (a kiosk whose clock is wrong) and
    its zone is another one, and the page still opens on the month it is now in the report's zone."""
    import alerts.reports

    base, tokens, _, ctx = served
    monkeypatch.setattr(ctx.settings.alerts, "report_timezone", zone)
    server_now = datetime.fromisoformat(now)
    real = alerts.reports.current_month
    monkeypatch.setattr(alerts.reports, "current_month", lambda timezone="UTC", now=None: real(timezone, server_now))
    with opened_page(browser, timezone_id=browser_zone) as page:
        page.clock.set_fixed_time(datetime(2027, 3, 15, 12, tzinfo=UTC))
        login(page, base, tokens["viewer"])
        page.goto(f"{base}/ui/reports")
        expect(page.locator("#monthly-period")).to_have_text(period)
        expect(page.locator("#month")).to_have_value(month)
        with page.expect_download() as dl:
            page.click("#monthly-csv")
        assert dl.value.suggested_filename == f"foreshock-report-{month}.csv"
