"""Text from outside (a unit's customer, site and firmware as registered or imported) is shown on the
dashboard as text: the pages build elements from text nodes, never from HTML (a guard: found fine)."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.conftest import browser, expect, page, served  # noqa: F401 - fixtures
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

MARKUP = '<img src=x id=injected onerror="document.title=\'pwned\'">'


def test_markup_in_unit_fields_is_shown_not_run(page, served):  # noqa: F811
    base, tokens, _, _ = served
    r = httpx.post(f"{base}/api/v1/units", headers={"Authorization": f"Bearer {tokens['admin']}"},
                   json={"device_id": "X-0001", "customer": MARKUP, "site": "<b>Plant</b>", "firmware": "<i>1.0</i>"})
    assert r.status_code == 201, r.text
    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/unit?id=X-0001")
    expect(page.locator("main")).to_contain_text(f"{MARKUP} · <b>Plant</b> · firmware <i>1.0</i>")
    assert page.locator("#injected, main b, main i").count() == 0
    assert page.title() != "pwned"
