"""A complaint's attachment link waits for its file, as Download CSV does (test_csv_download.py): a second click
while a photo was fetched over a slow link started a second download, and a lost connection said only "Failed
to fetch". The answers are held back by the test (Playwright's routing), not waited for."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import httpx
import pytest

from tests.browser.conftest import expect
from tests.browser.test_csv_download import _wait_for
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_an_attachment_link_takes_no_second_click_while_its_file_is_fetched(page, served):
    base, tokens, world, _ = served
    photo = bytes(range(256)) * 4
    r = httpx.post(f"{base}/api/v1/complaints", headers={"Authorization": f"Bearer {tokens['service']}"}, json={
        "customer": "ACME", "contact": {"name": "Ann Lee", "email": "ann@acme.example"}, "device_id": world.failing,
        "description": "grinds", "request": "repair", "channel": "phone",
        "occurred_at": datetime.fromtimestamp(time.time() - 30, UTC).isoformat(),
        "attachments": [{"name": "pump.jpg", "content_type": "image/jpeg", "data_b64": base64.b64encode(photo).decode()}]})
    assert r.status_code == 201, r.text
    held = []
    page.route("**/api/v1/complaints/*/attachments/*", lambda route: held.append(route))
    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/complaints")
    link = page.locator("#complaints tr .attachment", has_text="pump.jpg").first

    link.click()
    expect(link).to_have_text("pump.jpg (1 KiB) preparing…")
    expect(link).to_have_attribute("aria-disabled", "true")
    link.click(force=True)  # (Playwright waits for a link that says it is disabled: clicked all the same)
    link.click(force=True)
    page.wait_for_timeout(300)  # (a second request would be routed to the test by now)
    assert len(held) == 1, f"{len(held)} downloads started"
    with page.expect_download() as dl:
        held[0].continue_()
    assert dl.value.suggested_filename == "pump.jpg"
    expect(link).to_have_text("pump.jpg (1 KiB)")
    expect(link).to_have_attribute("aria-disabled", "false")

    link.click()
    _wait_for(page, held, 2)
    held[1].abort("connectionreset")
    expect(page.locator(".error", has_text="Download of pump.jpg failed: no answer from the server")).to_have_count(1)
    expect(link).to_have_text("pump.jpg (1 KiB)")
    assert [e for e in page.js_errors if "ERR_CONNECTION_RESET" not in e] == [], page.js_errors
