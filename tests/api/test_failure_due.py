"""A unit's time to failure as an absolute due time, so that a unit gone silent is counted down.

``ttf_s`` (and its range) is the estimate as of the assessed data's ``ts``: a unit that stopped reporting 10
hours ago with "30 h left" still said 30 h, on the dashboard and to every tool. Each time now comes with its
due time (``failure_due_at`` = ``ts`` + ``ttf_s``, ISO 8601 UTC), and "closest to failure first" sorts on it.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from api.app import API_PREFIX
from tests.api.conftest import auth

H = 3600.0


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def _assess(ctx, device_id: str, **a) -> None:
    """Save ``device_id``'s latest assessment as the detection stage does (``detector_state``)."""
    from foreshock.models import DetectorState

    with ctx.session_factory() as s:
        row = s.get(DetectorState, device_id) or DetectorState(device_id=device_id, state_json="{}")
        row.health = a.get("state", "warning")
        row.assessment_json = json.dumps({"state": "warning", **a})
        s.merge(row)
        s.commit()


def test_the_unit_list_and_detail_give_the_due_times_of_an_assessment_made_hours_ago(client, ctx, tokens, world):
    h = auth(tokens["viewer"])
    ts = round(time.time()) - 10 * H  # the unit went silent 10 h ago
    _assess(ctx, world.watch, ts=ts, ttf_s=30 * H, ttf_low_s=20 * H, ttf_high_s=40 * H, failure_mode="outer_race")
    want = {"ttf_s": 30 * H, "ttf_low_s": 20 * H, "ttf_high_s": 40 * H,  # the keys other tools read, as they were
            "failure_due_at": _iso(ts + 30 * H), "failure_due_low_at": _iso(ts + 20 * H),
            "failure_due_high_at": _iso(ts + 40 * H)}

    (u,) = [u for u in client.get("/api/v1/units", headers=h).json()["data"] if u["device_id"] == world.watch]
    assert {k: u["health"].get(k) for k in want} == want
    detail = client.get(f"/api/v1/units/{world.watch}", headers=h).json()["health"]
    assert {k: detail.get(k) for k in want} == want
    # the seeded failing unit: assessed a minute ago, 5 days left then
    failing = client.get(f"/api/v1/units/{world.failing}", headers=h).json()["health"]
    assert failing["failure_due_at"] == _iso(failing["ts"] + 5 * 86400)
    # no estimate, no due time
    healthy = client.get(f"/api/v1/units/{world.healthy}", headers=h).json()["health"]
    assert healthy.get("ttf_s") is None and healthy.get("failure_due_at") is None


def test_a_due_time_needs_the_assessed_time_and_a_number(client, ctx, tokens, world):
    h = auth(tokens["viewer"])
    _assess(ctx, world.watch, ttf_s=30 * H)  # no ts: no due time (ttf_s as it was)
    got = client.get(f"/api/v1/units/{world.watch}", headers=h).json()["health"]
    assert got["ttf_s"] == 30 * H and got["failure_due_at"] is None
    _assess(ctx, world.watch, ts=time.time(), ttf_s=None, ttf_low_s=1e300)  # none, and a date no calendar has
    got = client.get(f"/api/v1/units/{world.watch}", headers=h).json()["health"]
    assert got["failure_due_at"] is None and got["failure_due_low_at"] is None


def test_closest_to_failure_first_counts_from_each_assessment(client, ctx, tokens, world):
    """Sorted by ttf_s as it was, a unit silent for 10 h with 30 h left (20 h now) came after one assessed now
    with 25 h left; and a unit at its alarm limit (ttf_s 0) came after every unit with an estimate."""
    h = auth(tokens["viewer"])
    now = time.time()
    _assess(ctx, world.watch, ts=now - 10 * H, ttf_s=30 * H)
    _assess(ctx, world.healthy, ts=now, ttf_s=25 * H)
    order = [u["device_id"] for u in client.get("/api/v1/units", params={"sort": "ttf"}, headers=h).json()["data"]]
    assert order == [world.watch, world.healthy, world.failing]  # due in 20 h, 25 h, 5 days
    _assess(ctx, world.healthy, ts=now, ttf_s=0.0, state="alarm")
    order = [u["device_id"] for u in client.get("/api/v1/units", params={"sort": "ttf"}, headers=h).json()["data"]]
    assert order == [world.healthy, world.watch, world.failing]


def test_the_due_times_are_in_the_openapi_schema(client):
    health = client.get(f"{API_PREFIX}/openapi.json").json()["components"]["schemas"]["Health"]["properties"]
    for key in ("failure_due_at", "failure_due_low_at", "failure_due_high_at"):
        assert "ISO 8601" in health[key]["description"] and key in health
    assert "as of `ts`" in health["ttf_s"]["description"]
