"""Shaft faults told apart by the shape of the order spectrum (:mod:`detectors.shaft`), on analytic
signals, and through :class:`detectors.UnitMonitor` on simulated units (looseness used to be named
``misalignment``: both raise 2×, only looseness has the long train of harmonics and half orders)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from detectors.shaft import shaft_pattern
from detectors.spectrum import G, Spectrum
from tests.detectors.fleetsim import alert_modes, run_fleet

FS, FR, N = 5120.0, 5.0, 16384  # a 300 rpm gearbox shaft, 0.31 Hz bins
MIXED = Path(__file__).resolve().parents[2] / "simulator" / "fleets" / "mixed.toml"


def _tones(v_mm_s: dict[float, float], noise_g: float = 0.002, seed: int = 0) -> np.ndarray:
    """Acceleration (g) of lines with the given velocity amplitudes (mm/s, 0-peak) at orders of FR."""
    rng = np.random.default_rng(seed)
    t = np.arange(N) / FS
    x = sum(v * 2 * np.pi * o * FR / (G * 1000) * np.sin(2 * np.pi * o * FR * t + rng.uniform(0, 6.3))
            for o, v in v_mm_s.items())
    return x + rng.normal(0, noise_g, N)


def _name(v_mm_s: dict[float, float], healthy: dict[str, float] | None = None, **kw: float) -> str | None:
    return shaft_pattern(Spectrum.of(_tones(v_mm_s, **kw), FS), FR, healthy)[0]


# the simulator's looseness weights: 2x at 0.8 of 1x, as in a misalignment, but a train to 10x and half orders
LOOSE = {0.5: 0.3, 1: 1.0, 1.5: 0.3, 2: 0.8, 2.5: 0.25, 3: 0.6, 4: 0.5, 5: 0.4, 6: 0.35, 7: 0.3, 8: 0.25, 9: 0.2}


@pytest.mark.parametrize("lines,mode", [
    ({1: 4.0, 2: 0.3}, "imbalance"),
    ({1: 2.0, 2: 3.0, 3: 1.0}, "misalignment"),  # 2x above 1x, 3x present, the train stops there
    ({1: 2.0, 2: 1.6, 3: 0.7}, "misalignment"),  # 2x at 0.8 of 1x, nothing beyond 3x
    ({o: 3 * v for o, v in LOOSE.items()}, "looseness"),  # 2x at 0.8 of 1x too, with the train
    ({1: 2.0, 1.5: 0.6, 2: 1.0, 2.5: 0.5, 3: 0.8, 4: 0.6}, "looseness"),  # a short train with half orders
])
def test_the_shape_of_the_orders_names_the_shaft_fault(lines: dict[float, float], mode: str) -> None:
    assert _name(lines) == mode


def test_misalignment_is_not_looseness_whatever_its_3x() -> None:
    assert _name({1: 1.0, 2: 2.0, 3: 1.5}) == "misalignment"
    assert _name({1: 1.0, 2: 2.0, 3: 1.5, 4: 0.1, 5: 0.08}) == "misalignment"  # 4x, 5x under 12 % of 2x


def test_broadband_noise_is_not_a_harmonic_train() -> None:
    """Noise read at 3x..8x is as large as a weak train would be (here 12 % of 1x and more); only
    lines that stand 6 dB above the background around them count, so a stray noise bin is rare and
    never makes a train."""
    trains = []
    for seed in range(50):
        noisy = _tones({1: 2.0, 2: 0.5}, noise_g=0.05, seed=seed)
        name, _, ev = shaft_pattern(Spectrum.of(noisy, FS), FR)
        assert name != "looseness"
        trains.append(len(next(e for e in ev if e["family"] == "summary")["harmonic_train"]))
    assert max(trains) <= 1 and sum(trains) <= 5


def test_the_fault_is_read_on_its_excess_over_the_healthy_orders() -> None:
    """Early looseness on a machine with a strong healthy 1x and 2x: the raw shape is the healthy
    machine's; what the fault added is the train."""
    healthy = {1: 3.0, 2: 1.5, 3: 0.75}
    early = {o: np.hypot(healthy.get(o, 0.0), 0.5 * LOOSE[o]) for o in LOOSE}
    assert _name(early) != "looseness"
    assert _name(early, healthy={"1x": 3.0, "2x": 1.5, "3x": 0.75}) == "looseness"


def test_the_evidence_lists_every_order_and_the_train() -> None:
    name, conf, ev = shaft_pattern(Spectrum.of(_tones({o: 3 * v for o, v in LOOSE.items()}), FS), FR)
    assert name == "looseness" and 0.5 <= conf <= 0.9
    orders = {e["order"] for e in ev if e["family"] == "shaft"}
    assert {"0.5x", "1x", "1.5x", "2x", "2.5x", "3x", "8x"} <= orders
    summary = next(e for e in ev if e["family"] == "summary")
    assert len(summary["harmonic_train"]) >= 4 and summary["half_orders"]


def test_no_pattern_without_a_speed_or_when_8x_is_beyond_nyquist() -> None:
    sp = Spectrum.of(_tones({1: 2.0}), FS)
    assert shaft_pattern(sp, 0.0)[0] is None
    assert shaft_pattern(sp, FS / 15)[0] is None


@pytest.mark.slow
def test_simulated_mixed_fleet_names_each_shaft_fault_once() -> None:
    """``simulator/fleets/mixed.toml`` through the monitor as the live pipeline feeds it: every faulty
    unit gets its own fault (an unnamed ``anomaly`` watch first is allowed), healthy units none."""
    doc = tomllib.loads(MIXED.read_text())
    truth = {u["id"]: u.get("fault", {}).get("kind") for u in doc["units"]}
    runs = run_fleet(doc)
    named = {uid: [m for m in alert_modes(r) if m != "anomaly"] for uid, r in runs.items()}
    assert named == {uid: [kind] if kind else [] for uid, kind in truth.items()}
    assert named["G-0003"] == ["looseness"] and named["G-0002"] == ["misalignment"]
