"""A small fleet with one failing unit, seeded through the real services (registry, alert service,
telemetry store, detection state), for the API and browser tests.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np

from api.context import AppContext
from detectors.types import Assessment, Snapshot

RPM = 1480.0
BEARING = {"n_balls": 9, "ball_d": 7.94, "pitch_d": 39.04}


@dataclass
class Scenario:
    failing: str
    healthy: str
    watch: str
    alert_id: int
    ticket: str


def outer_race_snapshot(ts: float, fs: float = 12800.0, seconds: float = 1.0, seed: int = 0) -> Snapshot:
    """Shaft lines plus impulses at BPFO exciting a 3 kHz resonance, in noise."""
    from detectors.types import BearingGeometry

    rng = np.random.default_rng(seed)
    n = int(fs * seconds)
    t = np.arange(n) / fs
    shaft = RPM / 60
    bpfo = BearingGeometry(**BEARING).multipliers()["bpfo"] * shaft
    x = 0.05 * np.sin(2 * np.pi * shaft * t) + 0.02 * np.sin(2 * np.pi * 2 * shaft * t)
    ring = np.exp(-900 * t[:256]) * np.sin(2 * np.pi * 3000 * t[:256])
    pulses = np.zeros(n)
    pulses[(np.arange(0, seconds, 1 / bpfo) * fs).astype(int)] = 1.0
    x += 0.8 * np.convolve(pulses, ring)[:n] + rng.normal(0, 0.03, n)
    return Snapshot(ts=ts, fs=fs, samples=x, rpm=RPM)


def seed(ctx: AppContext, *, now: float | None = None) -> Scenario:
    from sqlalchemy import select

    from alerts.models import Alert, Ticket
    from foreshock.models import DetectorState
    from foreshock.tsdb import Point

    now = now or time.time()
    reg = ctx.registry
    reg.create_model("P-200", rated_rpm=RPM, bearing=BEARING, iso_group=2, description="process pump")
    # installed well before the corrective actions the tests record (a unit without an install date
    # counts its service from its registration, today)
    reg.create_unit("P-0001", model="P-200", customer="ACME", site="Bremen", firmware="1.4.2", batch="B7",
                    install_date="2025-06-01")
    reg.create_unit("P-0002", model="P-200", customer="ACME", site="Bremen", firmware="1.4.2", batch="B7",
                    install_date="2025-06-01")
    reg.create_unit("P-0003", model="P-200", customer="Globex", site="Lyon", firmware="1.3.0", batch="B6",
                    install_date="2025-06-01")

    # Seven days of hourly features: P-0001 degrades over the last two days.
    points = []
    for device, trend in (("P-0001", 1.0), ("P-0002", 0.0), ("P-0003", 0.2)):
        for h in range(7 * 24):
            ts = now - (7 * 24 - h) * 3600
            grow = trend * max(0.0, (h - 120) / 48)
            v = 1.2 + 4.0 * grow * grow + 0.05 * np.sin(h)
            points.append(Point("vibration", {"device": device, "axis": "x"},
                                {"rms_g": 0.1 + 0.3 * grow, "kurtosis": 3.0 + 6 * grow, "velocity_rms_mm_s": v,
                                 "bpfo_db": 1.0 + 12 * grow, "env_kurtosis": 0.5 + grow}, int(ts * 1000)))
    ctx.store.write(points)

    ctx.latest_snapshots.put("P-0001", outer_race_snapshot(now - 60))
    fail = Assessment(ts=now - 60, state="alarm", failure_mode="outer_race", confidence=0.9,
                      reasons=["BPFO and harmonics in the envelope spectrum, 14 dB above the floor"],
                      evidence=[{"family": "bpfo", "freq_hz": 88.6, "snr_db": 14.0}],
                      ttf_s=5 * 86400, ttf_low_s=3 * 86400, ttf_high_s=9 * 86400,
                      features={"rms_g": 0.4, "kurtosis": 9.0, "velocity_rms_mm_s": 5.2})
    watch = Assessment(ts=now - 60, state="watch", failure_mode="imbalance", reasons=["1× rising"],
                       features={"velocity_rms_mm_s": 2.1})
    ok = Assessment(ts=now - 60, state="healthy", features={"velocity_rms_mm_s": 1.2})
    ctx.alerts.handle_assessment("P-0001", fail, source_key="P-0001:vibration:1")
    ctx.alerts.handle_assessment("P-0003", watch, source_key="P-0003:vibration:1")
    with ctx.session_factory() as s:
        for device, a in (("P-0001", fail), ("P-0002", ok), ("P-0003", watch)):
            s.add(DetectorState(device_id=device, state_json="{}", health=a.state, assessment_json=json.dumps(a.to_dict())))
        s.commit()
        alert = s.scalars(select(Alert).where(Alert.device_id == "P-0001")).one()
        ticket = s.scalars(select(Ticket).where(Ticket.device_id == "P-0001")).one()
        return Scenario("P-0001", "P-0002", "P-0003", alert.id, ticket.number)
