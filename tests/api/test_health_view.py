"""The units' latest health as the API shows it."""

from __future__ import annotations

from datetime import datetime

from api.health_view import latest_health


def test_updated_at_carries_its_utc_offset_on_sqlite_too(sqlite_ctx):
    # every other API time ends in +00:00; on SQLite this one came back without an offset
    from foreshock.models import DetectorState

    with sqlite_ctx.session_factory() as s:
        s.add(DetectorState(device_id="P-0001", state_json="{}", health="healthy", assessment_json='{"ts": 1.0}'))
        s.commit()
    with sqlite_ctx.session_factory() as s:
        item = latest_health(s)["P-0001"]
    updated = datetime.fromisoformat(item["updated_at"])
    assert updated.utcoffset() is not None and updated.utcoffset().total_seconds() == 0
    assert item["updated_at"].endswith("+00:00")
