"""A new installation: the complaints and corrective-action lists say that there is nothing yet
(they showed a bare table header, as if still loading)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import expect
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_empty_lists_say_so(page, served):
    base, tokens, _, _ = served
    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/complaints")
    expect(page.locator("#no-complaints")).to_have_text("No complaints yet.")
    expect(page.locator("#c-count")).to_have_text("0 complaints")
    page.goto(f"{base}/ui/corrective")
    expect(page.locator("#no-actions")).to_have_text("No corrective actions recorded yet.")
    assert page.js_errors == [], page.js_errors
