"""One ``seq`` counter per unit, shared by telemetry and vibration: the document now says it must be.

docs/device-protocol.md said "One counter per unit is enough", which reads as an allowance: a firmware
team that kept a counter per topic (telemetry and vibration numbered apart, as two tasks of one unit
often do) saw its unit reported with hundreds of messages missing, none lost: each counter's numbers are
gaps in the other's. Measured here with the platform's own rule (``foreshock.seqgaps``): 600 records and
10 snapshots, two counters, 940 counted missing.
"""

from __future__ import annotations

from pathlib import Path

from foreshock.seqgaps import SeqTracker

DOC = Path(__file__).resolve().parents[2] / "docs" / "device-protocol.md"
FLAT = " ".join(DOC.read_text(encoding="utf-8").split())
T0 = 1_795_256_130_000


def _missing(shared: bool) -> int:
    tracker, tel, vib, seq = SeqTracker(), 0, 0, 0
    for i in range(600):
        ts = T0 + i * 10_000
        seq += 1
        tel += 1
        tracker.see(seq if shared else tel, ts)
        if i % 60 == 0:
            seq += 1
            vib += 1
            tracker.see(seq if shared else vib, ts + 1)
    return tracker.missing


def test_the_document_says_one_counter_shared_by_telemetry_and_vibration():
    assert ("One counter per unit, **shared by telemetry and vibration**: a counter per topic (or per "
            "sensor) makes the numbers of one look like gaps in the other, and the platform counts them as "
            "lost messages") in FLAT
    assert "One counter per unit is enough" not in FLAT


def test_what_it_warns_of_is_what_the_platform_does():
    assert _missing(shared=True) == 0
    assert _missing(shared=False) > 600  # more "lost" than were sent, none lost
