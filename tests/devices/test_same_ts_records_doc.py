"""Values of one instant split over two records with the same ``ts``: the second is stored, not assessed.

docs/device-protocol.md says that a record with the same ``ts`` as a stored one "adds those values to the
point", which reads as an invitation to send each sensor in a message of its own, stamped alike. The
detection stage takes only records newer than the newest it has seen of the unit, so the second record's
values were stored but never reached the detectors, without a word in the log (seen with ``foreshock
run``: ``split_a`` sent after ``split_c`` with the same ``ts``). The document now says to send one record
per instant; this test checks the behaviour it describes.
"""

from __future__ import annotations

import logging
from pathlib import Path

from devices.protocol import ParsedMessage, TelemetryRecord
from foreshock.detection import DetectionStage
from ingest.types import IngestedMessage

DOC = Path(__file__).resolve().parents[2] / "docs" / "device-protocol.md"
FLAT = " ".join(DOC.read_text(encoding="utf-8").split())
TS = 1_795_256_130_000


class _Registry:
    def machine_info(self, device_id):
        return None

    def detector_config(self, device_id):
        return {}

    def mark_seen(self, device_id, ts_ms):
        pass

    def record_status(self, *a, **kw):
        pass


class _Alerts:
    def threshold_factor(self, device_id):
        return 1.0

    def handle_assessment(self, device_id, assessment, *, source_key):
        return []


def _tel(seq: int, ts_ms: int, values: dict[str, float]) -> IngestedMessage:
    parsed = ParsedMessage("P-0001", "telemetry", records=(TelemetryRecord(ts_ms, seq, values),))
    return IngestedMessage("P-0001", "telemetry", parsed, None, ts_ms / 1000, "foreshock/v1/P-0001/telemetry")


def test_a_second_record_with_the_same_ts_is_not_assessed_as_the_document_says(sessions, caplog):
    assert ("Put every value measured at one instant in **one record**. A second record with the same `ts` (one "
            "message per sensor, stamped alike) is stored, its values added to the point, but the detectors do not "
            "assess it") in FLAT
    stage = DetectionStage(sessions, registry=_Registry(), alerts=_Alerts())
    with caplog.at_level(logging.WARNING, logger="foreshock.detection"):
        stage.on_batch([_tel(1, TS, {"temperature_c": 40.0})])
        stage.on_batch([_tel(1, TS, {"temperature_c": 40.0})])  # the broker's redelivery: a copy, not counted
        assert (stage.stats.records, stage.stats.skipped_old, stage.stats.same_ts_records) == (1, 1, 0)
        stage.on_batch([_tel(2, TS, {"current_a": 12.0})])  # the same instant, another sensor
        assert (stage.stats.records, stage.stats.skipped_old, stage.stats.same_ts_records) == (1, 2, 1)
        stage.on_batch([_tel(3, TS, {"voltage_v": 230.0})])  # and a third: counted, said once an hour at most
        stage.on_batch([_tel(4, TS + 1000, {"temperature_c": 40.1, "current_a": 12.1})])  # one record per instant
    assert (stage.stats.records, stage.stats.skipped_old, stage.stats.same_ts_records) == (2, 3, 2)
    said = [r.getMessage() for r in caplog.records if "same ts" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("P-0001: 1 telemetry record(s) with the same ts as the one before")
    assert "not assessed" in said[0] and "(2 after 1)" in said[0]
