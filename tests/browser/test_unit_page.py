"""The unit page in the states a service engineer meets besides "failing": a serial that is not
registered, a unit never assessed, a unit whose sensor is faulty, and a browser in another time zone."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from tests.browser.conftest import expect, opened_page, shot
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def save_health(ctx, device_id: str, assessment) -> None:
    """What the detection stage saves for a unit and the API reads (its latest assessment)."""
    from foreshock.models import DetectorState

    with ctx.session_factory.begin() as s:
        row = s.get(DetectorState, device_id) or DetectorState(device_id=device_id, state_json="{}")
        row.health, row.assessment_json = assessment.state, json.dumps(assessment.to_dict())
        s.add(row)


def test_an_unknown_serial_says_so_and_keeps_saying_it(page, served):
    """The error used to vanish after 8 s over empty Trends / Spectrum / Tickets panels."""
    base, tokens, _, _ = served
    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/unit?id=NO-SUCH-UNIT")
    expect(page.locator("#unit-error")).to_have_text("no unit 'NO-SUCH-UNIT' is registered")
    # the error is the page (the passing kind is removed after 8 s), not a banner over empty panels
    assert page.locator("#chart-velocity").count() == 0 and page.locator("#unit-tickets").count() == 0
    assert page.locator("main > .error").count() == 1


def test_a_unit_with_a_faulty_sensor_is_not_shown_as_fault_free(page, served):
    from detectors.types import Assessment

    base, tokens, _, ctx = served
    ctx.registry.create_unit("P-0201", model="P-200", customer="ACME", site="Bremen")
    ctx.registry.create_unit("P-0202", model="P-200", customer="ACME", site="Bremen")
    measured = time.time() - 30 * 3600  # a day and six hours ago: the page says how old the health is
    stuck = Assessment(ts=measured, state="unknown", sensor_fault="stuck",
                       reasons=["cannot assess: the signal is stuck at 0.5 g"])
    save_health(ctx, "P-0201", stuck)
    # a sensor that sends acceleration only: no velocity to put on the ISO mm/s zones
    from foreshock.tsdb import Point

    ctx.store.write([Point("vibration", {"device": "P-0201", "axis": "x"}, {"rms_g": 0.5, "kurtosis": 1.5},
                           int(measured * 1000))])
    login(page, base, tokens["viewer"])

    page.goto(f"{base}/ui/unit?id=P-0201")
    expect(page.locator("#why")).to_have_text("Why: cannot assess: sensor fault (stuck)")
    expect(page.locator("#reasons")).to_contain_text("stuck at 0.5 g")
    stamp = datetime.fromtimestamp(measured, UTC).strftime("%Y-%m-%d %H:%M UTC")
    expect(page.locator("#assessed")).to_have_text(f"assessed on data of {stamp} (1d 6h ago)")
    page.locator("#chart-velocity canvas").first.wait_for()
    assert "Acceleration RMS (g): no velocity measured" in page.locator("#chart-velocity").inner_text()
    assert page.locator("#trends-info").inner_text() == ""
    shot(page, "unit-sensor-fault")

    page.goto(f"{base}/ui/unit?id=P-0202")  # registered, nothing analysed yet
    expect(page.locator("#why")).to_have_text("Why: not assessed yet: no data of this unit has been analysed")
    assert page.locator("#assessed").inner_text() == ""
    # no data at all: the empty charts say so, under the velocity chart's own title
    expect(page.locator("#trends-info")).to_have_text("No vibration data from this unit in the last 7d.")
    page.select_option("#range", "30d")
    expect(page.locator("#trends-info")).to_have_text("No vibration data from this unit in the last 30d.")
    assert "Velocity RMS" in page.locator("#chart-velocity").inner_text()


def test_trend_times_are_utc_in_a_browser_elsewhere(browser, served):
    """The tables say UTC; the trend axes drew the browser's local time (a New York browser put the
    last point five hours earlier than the snapshot time printed above it)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    base, tokens, world, _ = served
    with opened_page(browser, timezone_id="America/New_York") as page:
        login(page, base, tokens["viewer"])
        page.goto(f"{base}/ui/unit?id={world.failing}")
        page.locator("#range").select_option("24h")
        page.wait_for_function("() => { const d = document.querySelector('#chart-velocity')?.dataset;"
                               " return d !== undefined && d.xMax - d.xMin < 2 * 86400; }")
        # the legend read in the same step as it is checked: a chart drawn again (a second load of the
        # range) sets it back to "--" until the mouse moves, which once fell between a check and a read
        # (CI: "time data '--'"); so the mouse rests on the newest point again before each try
        legend = ("() => { const v = document.querySelector('#chart-velocity .u-legend .u-value')?.textContent;"
                  " return v && v !== '--' ? v : null; }")
        shown = None
        over = page.locator("#chart-velocity .u-over")
        for nudge in range(8):
            over.wait_for(state="visible")  # (a chart being drawn again is briefly not there: no box)
            box = over.bounding_box()
            if box is None:
                continue
            page.mouse.move(box["x"] + box["width"] - 2 - nudge, box["y"] + box["height"] / 2)  # the newest point
            try:
                shown = page.wait_for_function(legend, timeout=3000).json_value()
                break
            except PlaywrightTimeout:
                continue
        assert shown is not None, "the velocity legend never showed the newest point's time"
        at = datetime.strptime(shown, "%Y-%m-%d %H:%M UTC").replace(tzinfo=UTC)  # as every time on the page
        # the scenario's newest hourly point is an hour old, averaged into the chart's windows
        assert abs(at.timestamp() - (time.time() - 3600)) < 2 * 3600, (shown, "read as UTC")


def test_a_unit_at_its_alarm_limit_is_due_now_on_the_unit_and_fleet_pages(page, served):
    # a time to failure of 0 s (range 0-0: the limit is reached) read "0m 0s (0m 0s – 0m 0s)" on the fleet page
    # and "likely between 0m 0s and 0m 0s" on the unit page
    from detectors.types import Assessment

    base, tokens, _, ctx = served
    ctx.registry.create_unit("P-0301", model="P-200", customer="ACME", site="Bremen")
    due = Assessment(ts=time.time() - 60, state="alarm", failure_mode="outer_race", confidence=0.9,
                     reasons=["velocity RMS 7.4 mm/s: ISO 20816-3 zone D"], ttf_s=0.0, ttf_low_s=0.0, ttf_high_s=0.0)
    save_health(ctx, "P-0301", due)
    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/unit?id=P-0301")
    expect(page.locator("#ttf")).to_have_text("due now")
    expect(page.locator("#ttf-range")).to_have_text("the alarm limit is reached")
    page.goto(f"{base}/ui/")
    row = page.locator("tr", has=page.locator("a", has_text="P-0301"))
    expect(row).to_contain_text("due now")
    assert "0m 0s" not in row.inner_text()


def test_new_health_reaches_an_open_unit_page_without_an_alert(page, served):
    """The pages re-read health only on alert and ticket events: a time to failure counting down, or
    watch going back to healthy, reached an open unit or fleet page only when it was reloaded."""
    from detectors.types import Assessment

    base, tokens, _, ctx = served
    ctx.registry.create_unit("P-0311", model="P-200", customer="ACME", site="Bremen")
    now = float(round(time.time()))  # whole seconds, as the due times the page counts from
    first = Assessment(ts=now - 1200, state="warning", failure_mode="outer_race", ttf_s=30 * 3600.0,
                       ttf_low_s=20 * 3600.0, ttf_high_s=40 * 3600.0, reasons=["BPFO rising"])
    save_health(ctx, "P-0311", first)
    page.clock.set_fixed_time(now)  # the times left count from the assessments to the browser's now
    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/unit?id=P-0311")
    expect(page.locator("#ttf")).to_have_text("1d 5h")  # 30 h on data of 20 min ago
    page.wait_for_function("() => document.getElementById('live')?.textContent.includes('live')")
    later = Assessment(ts=now - 600, state="warning", failure_mode="outer_race", ttf_s=20 * 3600.0,
                       ttf_low_s=15 * 3600.0, ttf_high_s=25 * 3600.0, reasons=["BPFO rising"])
    save_health(ctx, "P-0311", later)
    ctx.events.publish("health", {"units": 1, "device_ids": ["P-0311"], "states": {"P-0311": "warning"}})
    expect(page.locator("#ttf")).to_have_text("19h 50m")
    # another unit's health leaves this page alone; a save of more units than the event names does not
    save_health(ctx, "P-0311", Assessment(ts=now, state="healthy", reasons=["no deviation from the baseline"]))
    ctx.events.publish("health", {"units": 1, "device_ids": ["P-9999"], "states": {"P-9999": "healthy"}})
    page.wait_for_timeout(1500)
    expect(page.locator("#ttf")).to_have_text("19h 50m")
    ctx.events.publish("health", {"units": 500, "device_ids": ["P-9999"], "states": {"P-9999": "healthy"}})
    expect(page.locator("#ttf")).to_have_text("no time-to-failure estimate")
