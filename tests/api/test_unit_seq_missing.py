"""The unit detail says how many of the unit's messages were lost before Foreshock (gaps in its seq)."""

from __future__ import annotations

from devices.protocol import ParsedMessage, TelemetryRecord
from foreshock.detection import DetectionStage
from foreshock.seqgaps import REORDER_WINDOW
from ingest.types import IngestedMessage
from tests.api.conftest import auth

T0 = 1_795_000_000_000


def tel(seq: int) -> IngestedMessage:
    ts_ms = T0 + seq * 10_000
    parsed = ParsedMessage("P-0001", "telemetry", records=(TelemetryRecord(ts_ms, seq, {"temperature_c": 40.0}),))
    return IngestedMessage("P-0001", "telemetry", parsed, None, ts_ms / 1000, "foreshock/v1/P-0001/telemetry")


def test_unit_detail_gives_the_messages_lost_before_foreshock(client, ctx, tokens, world):
    h = auth(tokens["viewer"])
    assert client.get("/api/v1/units/P-0001", headers=h).json()["seq_missing"] is None  # nothing counted yet
    stage = DetectionStage(ctx.session_factory, flush_on_batch=False)
    stage.on_batch([tel(s) for s in range(0, 300) if not 100 <= s < 130])  # 30 lost
    stage.close()
    # an API process without the detection stage reads the saved count
    assert client.get("/api/v1/units/P-0001", headers=h).json()["seq_missing"] == 30
    # one with it gives the running count
    live = DetectionStage(ctx.session_factory, flush_on_batch=False)
    live.on_batch([tel(s) for s in [300] + list(range(305, 306 + REORDER_WINDOW))])  # 4 more lost
    ctx.detection = live
    assert client.get("/api/v1/units/P-0001", headers=h).json()["seq_missing"] == 34
