"""The monthly report shows complaints preceded by a Foreshock warning (and by how long) and the
corrective-action verdicts."""

from __future__ import annotations

import pytest

from alerts.complaint_desk import ComplaintDesk
from alerts.reports import monthly_report, report_csv
from tests.alerts.helpers import T0, assess
from tests.complaints.test_complaints import complaint

pytestmark = pytest.mark.integration


def test_monthly_report_has_complaint_and_corrective_action_sections(service, clock, factory):
    clock.t = T0
    service.handle_assessment("P-0001", assess("warning", T0), source_key="k1")
    clock.t = T0 + 5 * 3600
    desk = ComplaintDesk(service)
    desk.register(complaint(occurred_at=T0 + 4 * 3600), actor="agent")  # 4 h after the warning
    desk.register(complaint(device_id="P-0002", channel="web_form", request="refund"), actor="agent")
    a = desk.create_action(title="Supplier change", scope={"batch": "B7"}, applied_at=T0 - 86400, actor="eng")
    desk.verify_action(a["id"])
    report = monthly_report(factory, "2026-11")
    c = report["complaints"]
    assert c["received"] == 2 and c["joined_open_ticket"] == 1
    assert c["preceded_by_warning"] == 1 and c["preceded_share"] == 0.5
    assert c["lead_time_h"]["mean"] == 4.0
    assert c["by_channel"] == {"api": 1, "web_form": 1} and c["by_request"] == {"repair": 1, "refund": 1}
    [action] = report["corrective_actions"]
    assert action["title"] == "Supplier change" and action["verdict"] == "insufficient_data"
    csv = report_csv(report)
    assert "complaints,all,preceded_by_warning,1" in csv
    assert f"corrective_action,{a['id']},verdict,insufficient_data" in csv
    assert monthly_report(factory, "2026-10")["complaints"]["received"] == 0
