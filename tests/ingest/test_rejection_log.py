"""Rejected messages show in the service's log: the first at once, then a summary per interval.

They were logged only at DEBUG, so a firmware engineer watching `foreshock run` while bringing a
unit up saw nothing when every message was refused."""

from __future__ import annotations

import logging

from foreshock.settings import load_settings
from ingest.deadletter import NewDeadLetter
from ingest.service import IngestService


def _dead(reason: str, detail: str, device: str = "P-0001") -> NewDeadLetter:
    return NewDeadLetter(reason, f"foreshock/v1/{device}/telemetry", b"{}", 1.7e9, device, detail)


def test_first_rejection_logged_at_once_then_one_summary_per_interval(tmp_path, caplog):
    service = IngestService(load_settings(data_dir=tmp_path), store=None, dead_letters=None, device_check=None)
    caplog.set_level(logging.WARNING, logger="ingest.service")

    service.report_rejections([_dead("schema", "missing field(s) seq")], every_s=10, now=100.0)
    assert [r.getMessage() for r in caplog.records] == [
        "rejected 1 message(s) (schema 1); latest from P-0001 on foreshock/v1/P-0001/telemetry: schema: "
        "missing field(s) seq (all: GET /api/v1/dead-letters)"]
    caplog.clear()

    flood = [_dead("schema", "values.t: expected a number, got str")] * 40 + [_dead("bad_json", "not valid JSON", "P-2")]
    service.report_rejections(flood, every_s=10, now=101.0)
    service.report_rejections([], every_s=10, now=109.9)
    assert caplog.records == []  # within the interval: counted, not logged

    service.report_rejections([], every_s=10, now=110.0)  # idle: the summary is not held back
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("rejected 41 message(s) (schema 40, bad_json 1); latest from P-2 on foreshock/v1/P-2/")
    caplog.clear()
    service.report_rejections([], every_s=10, now=500.0)
    assert caplog.records == []  # nothing new: nothing logged


def _future(device: str, ahead_s: float) -> NewDeadLetter:
    return _dead("future_timestamp", f"ts is {ahead_s:.0f} s in the future (more than 300 s allowed)", device)


def test_many_units_refused_as_in_the_future_by_a_similar_offset_name_the_servers_clock(tmp_path, caplog):
    """Found in the hostile-operations walk-through: a server clock already behind at start dead-lettered
    every unit's messages as future_timestamp, and the log said only that, unit by unit. When at least
    three units, most of the rejections, are ahead by about the same offset, the line says the server's
    clock is likely behind by about that much."""
    service = IngestService(load_settings(data_dir=tmp_path), store=None, dead_letters=None, device_check=None)
    caplog.set_level(logging.WARNING, logger="ingest.service")

    service.report_rejections([_future("P-1", 3605), _future("P-2", 3598), _future("P-3", 3620),
                               _dead("schema", "missing field(s) seq", "P-4")], every_s=10, now=100.0)
    (line,) = [r.getMessage() for r in caplog.records]
    assert "3 units are refused as about 60 min in the future: the server's clock is likely behind by about 60 min" \
        in line and "timedatectl / NTP" in line
    caplog.clear()

    # one unit whose own clock is ahead, or offsets that do not agree: no hint (the units' clocks are wrong)
    service.report_rejections([_future("P-1", 3600)], every_s=10, now=200.0)
    service.report_rejections([_future("P-1", 400), _future("P-2", 5000), _future("P-3", 90_000)], every_s=10,
                              now=300.0)
    # three units in the future, but most rejections are something else
    service.report_rejections([_future("P-1", 3600), _future("P-2", 3600), _future("P-3", 3600)]
                              + [_dead("schema", "missing field(s) seq")] * 5, every_s=10, now=400.0)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3 and not any("server's clock" in x for x in lines)
