"""diagnose() on one record: synthetic defects, shaft faults, bad input, and a CWRU slice check."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from detectors import diagnose
from detectors.types import BearingGeometry, MachineInfo, Snapshot

FS, RPM = 25600.0, 1800.0
GEO = BearingGeometry(9, 0.3126, 1.537)
CWRU = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "cwru"


def _impulses(rate_hz: float, seconds: float = 2.0, mod_hz: float = 0.0, seed: int = 0) -> np.ndarray:
    t = np.arange(int(FS * seconds)) / FS
    ring = np.exp(-700 * t[:300]) * np.sin(2 * np.pi * 4500 * t[:300])
    times = np.arange(0, seconds, 1 / rate_hz)
    amps = 1 + (0.8 * np.cos(2 * np.pi * mod_hz * times) if mod_hz else 0)
    imp = np.zeros(t.size)
    imp[(times * FS).astype(int)] = amps
    return np.convolve(imp, ring)[: t.size] + np.random.default_rng(seed).normal(0, 0.08, t.size)


@pytest.mark.parametrize("family,mode", [("bpfo", "outer_race"), ("bpfi", "inner_race")])
def test_synthetic_race_defects_are_named(family: str, mode: str) -> None:
    rate = GEO.multipliers()[family] * RPM / 60
    x = _impulses(rate, mod_hz=RPM / 60 if family == "bpfi" else 0.0)
    got, conf, ev = diagnose(Snapshot(0, FS, x, rpm=RPM), MachineInfo(rated_rpm=RPM, bearing=GEO))
    assert got == mode and 0 < conf <= 1
    line = next(e for e in ev if e.get("family") == family and e.get("harmonic") == 1)
    assert line["freq_hz"] == pytest.approx(rate, rel=0.02) and line["snr_db"] > 6


def test_unknown_geometry_says_bearing_not_a_part() -> None:
    x = _impulses(GEO.multipliers()["bpfo"] * RPM / 60)
    got, _, ev = diagnose(Snapshot(0, FS, x, rpm=RPM), MachineInfo(rated_rpm=RPM))
    assert got == "bearing"
    assert ev and "order" in ev[0]


def test_healthy_noise_names_no_fault() -> None:
    x = np.random.default_rng(5).normal(0, 0.05, int(FS * 2))
    assert diagnose(Snapshot(0, FS, x, rpm=RPM), MachineInfo(rated_rpm=RPM, bearing=GEO))[0] is None
    assert diagnose(Snapshot(0, FS, x, rpm=RPM), MachineInfo(rated_rpm=RPM))[0] is None


def _shaft(amps: dict[float, float], seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(FS * seconds)) / FS
    fr = RPM / 60
    x = sum(a * np.sin(2 * np.pi * o * fr * t + o) for o, a in amps.items())
    return x + np.random.default_rng(6).normal(0, 0.01, t.size)


@pytest.mark.parametrize("amps,mode", [
    ({1: 0.12}, "imbalance"),
    ({1: 0.06, 2: 0.15}, "misalignment"),
    ({0.5: 0.03, 1: 0.08, 1.5: 0.03, 2: 0.05, 3: 0.08, 4: 0.1, 5: 0.1}, "looseness"),
])
def test_shaft_faults_from_the_velocity_spectrum(amps: dict[float, float], mode: str) -> None:
    got, conf, _ = diagnose(Snapshot(0, FS, _shaft(amps), rpm=RPM), MachineInfo(rated_rpm=RPM))
    assert got == mode and conf > 0.3


def test_small_shaft_lines_in_zone_a_are_not_a_fault() -> None:
    assert diagnose(Snapshot(0, FS, _shaft({1: 0.01}), rpm=RPM), MachineInfo(rated_rpm=RPM))[0] is None


_NOISE = np.random.default_rng(0).normal(0, 1, 4096)


@pytest.mark.parametrize("samples,fs,rpm,match", [
    (np.full(4096, np.nan), FS, RPM, "4096 NaN or infinite samples"),
    (np.zeros(4096), FS, RPM, "all 4096 samples are equal"),
    (np.zeros(10), FS, RPM, "10 samples, at least 256 are needed"),
    (_NOISE, 1000.0, RPM, "cannot resolve"),
    # these raised (ValueError, TypeError, ZeroDivisionError) or warned (ComplexWarning, overflow),
    # or gave one reason for all ("fewer than 256 samples, non-finite or constant") that named none
    (_NOISE, 0.0, RPM, "sample rate 0.0 is not a positive number"),
    (_NOISE, float("inf"), RPM, "sample rate inf is not a positive number"),
    (_NOISE, None, RPM, "sample rate None is not a positive number"),
    (_NOISE, "fast", RPM, "sample rate 'fast' is not a positive number"),
    (_NOISE, FS, float("nan"), "speed nan rpm is not a non-negative number"),
    (_NOISE, FS, "1800", "speed '1800' rpm is not a non-negative number"),
    (np.array(["a"] * 4096), FS, RPM, "samples are not numbers"),
    (_NOISE.astype(complex), FS, RPM, "samples are not numbers (dtype complex128)"),
    (_NOISE.reshape(2, -1), FS, RPM, "samples must be one-dimensional, got shape (2, 2048)"),
    ([[1.0, 2.0], [3.0]], FS, RPM, "samples are not an array of numbers"),
    (_NOISE * 1e300, FS, RPM, "beyond any accelerometer"),
])
def test_bad_input_is_a_reason_not_an_exception(samples, fs, rpm, match: str) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and never a warning
        got, conf, ev = diagnose(Snapshot(0, fs, samples, rpm=rpm), MachineInfo(rated_rpm=RPM, bearing=GEO))
    assert got is None and conf == 0.0 and ev[0]["reason"].startswith("cannot assess: ") and match in ev[0]["reason"]


# load-0 records of the smallest and largest seeded faults on each end, plus the healthy record
_RECORDS = [
    "12k_Fan_End_IR007_0_278", "12k_Fan_End_IR021_0_270", "12k_Fan_End_OR021at6_0_315", "12k_Fan_End_B021_0_290",
    "48k_Drive_End_IR021_0_213", "48k_Drive_End_OR007at6_0_135", "48k_Drive_End_B007_0_122",
    "48k_Drive_End_OR021at6_0_238",
]


@pytest.mark.skipif(not CWRU.is_dir(), reason="CWRU data not present")
def test_cwru_slices() -> None:
    def run(name: str) -> tuple[str, str | None]:
        meta = json.loads((CWRU / f"{name}.json").read_text())
        data = np.load(CWRU / f"{name}.npz")
        b = meta["bearing"]
        geo = BearingGeometry(b["n_balls"], b["ball_d"], b["pitch_d"], b["contact_deg"])
        fs, rpm = float(data["fs"]), float(data["rpm"])
        snap = Snapshot(0, fs, data["x"][: int(3 * fs)], rpm=rpm)
        return meta["fault"], diagnose(snap, MachineInfo(rated_rpm=rpm, bearing=geo))[0]

    results = [run(n) for n in _RECORDS]
    correct = sum(truth == got for truth, got in results)
    assert correct >= 6, results  # ball faults are the hard ones (Smith & Randall 2015)
    races = [(t, g) for t, g in results if t != "ball"]
    assert all(t == g for t, g in races), races
    assert run("normal_0_97")[1] is None


# A 6203 (the CWRU fan end): BSF = 1.99x, 2xBSF = 3.99x and BPFI = 4.95x sit close to shaft harmonics
GEO_6203 = BearingGeometry(8, 0.2656, 1.122)


def _pulses(times: np.ndarray, amps: np.ndarray, seconds: float, seed: int = 0) -> np.ndarray:
    t = np.arange(int(FS * seconds)) / FS
    ring = np.exp(-700 * t[:300]) * np.sin(2 * np.pi * 4500 * t[:300])
    imp = np.zeros(t.size)
    keep = times < seconds
    np.add.at(imp, (times[keep] * FS).astype(int), amps[keep])
    return np.convolve(imp, ring)[: t.size] + np.random.default_rng(seed).normal(0, 0.08, t.size)


def test_a_ball_fault_is_named_from_its_cage_modulation_when_2bsf_sits_on_a_shaft_harmonic() -> None:
    m, fr, seconds = GEO_6203.multipliers(), RPM / 60, 4.0
    times = np.arange(0, seconds, 1 / (2 * m["bsf"] * fr))
    amps = 0.5 * (1 + np.cos(2 * np.pi * m["ftf"] * fr * times))  # in and out of the load zone with the cage
    got, _, ev = diagnose(Snapshot(0, FS, _pulses(times, amps, seconds), rpm=RPM),
                          MachineInfo(rated_rpm=RPM, bearing=GEO_6203))
    assert got == "ball", ev[-1]
    cage = [e for e in ev if e.get("family") == "ftf"]
    assert cage and max(e["snr_db"] for e in cage) > 6
    # the BSF harmonics themselves (1.99x, 3.99x, 5.98x) are ambiguous: shown, not counted
    assert all(e.get("ambiguous") for e in ev if e.get("family") == "bsf")


def test_the_same_ball_impacts_without_cage_modulation_are_not_called_a_ball_fault() -> None:
    # impacts at 2xBSF = 3.99x with no cage modulation are indistinguishable from a 4x shaft effect
    m, fr, seconds = GEO_6203.multipliers(), RPM / 60, 4.0
    times = np.arange(0, seconds, 1 / (2 * m["bsf"] * fr))
    got, _, ev = diagnose(Snapshot(0, FS, _pulses(times, np.full(times.size, 0.5), seconds), rpm=RPM),
                          MachineInfo(rated_rpm=RPM, bearing=GEO_6203))
    assert got != "ball", ev[-1]


def test_shaft_synchronous_impacts_at_5x_are_not_read_as_bpfi_at_4_95x() -> None:
    # five impacts per revolution (e.g. a rub or a 5-vane impeller) modulated at 1x: at a fine enough
    # resolution the 5x line is separable from BPFI = 4.95x and is not counted for the inner race
    fr, seconds = RPM / 60, 4.0
    times = np.arange(0, seconds, 1 / (5 * fr))
    amps = 0.5 * (1 + 0.8 * np.cos(2 * np.pi * fr * times))
    got, _, ev = diagnose(Snapshot(0, FS, _pulses(times, amps, seconds), rpm=RPM),
                          MachineInfo(rated_rpm=RPM, bearing=GEO_6203))
    assert got != "inner_race", ev[-1]
    # the same impacts at BPFI itself are an inner-race fault
    times = np.arange(0, seconds, 1 / (GEO_6203.multipliers()["bpfi"] * fr))
    amps = 0.5 * (1 + 0.8 * np.cos(2 * np.pi * fr * times))
    got, _, ev = diagnose(Snapshot(0, FS, _pulses(times, amps, seconds), rpm=RPM),
                          MachineInfo(rated_rpm=RPM, bearing=GEO_6203))
    assert got == "inner_race", ev[-1]


def test_the_envelope_resolution_follows_the_bearings_closest_separable_line() -> None:
    from detectors.diagnosis import _min_separation_hz
    fr = RPM / 60
    # 6203: BPFO 3.05x and BPFI 4.95x are 0.05x = 1.5 Hz from 3x and 5x (2xBSF at 3.99x is inseparable)
    assert _min_separation_hz(GEO_6203.multipliers(), fr) == pytest.approx(0.053 * fr, rel=0.05)
    # 6205: every line is at least 0.28x away from a shaft harmonic
    assert _min_separation_hz(GEO.multipliers(), fr) > 0.25 * fr


def _slipping_outer_race(true_rpm: float, seconds: float = 3.0) -> np.ndarray:
    """Outer-race impacts and shaft harmonics (1x..8x) at ``true_rpm``."""
    fr = true_rpm / 60
    t = np.arange(int(FS * seconds)) / FS
    x = _impulses(GEO.multipliers()["bpfo"] * fr, seconds=seconds)
    return x + sum(0.05 / h * np.sin(2 * np.pi * h * fr * t + h) for h in range(1, 9))


def test_a_stated_speed_its_harmonics_contradict_is_replaced_by_the_measured_one() -> None:
    from detectors.diagnosis import _diagnose_at
    from detectors.spectrum import Spectrum

    machine = MachineInfo(rated_rpm=RPM, bearing=GEO)
    x = _slipping_outer_race(RPM * 0.975)  # the drive says 1,800 rpm, the motor slips 2.5 %
    mode, _, ev = diagnose(Snapshot(0, FS, x, rpm=RPM), machine)
    speed = next(e for e in ev if e.get("feature") == "shaft_speed")
    assert speed["measured_hz"] == pytest.approx(RPM * 0.975 / 60, rel=1e-3) and speed["gain_db"] >= 10
    assert mode == "outer_race"
    # at the stated speed the defect lines fall outside the 1 % search: not named outer race
    assert _diagnose_at(x, FS, Spectrum.of(x, FS), RPM / 60, machine, 4.0, 0.01, 0.5)[0] != "outer_race"


def test_a_right_stated_speed_and_a_signal_without_harmonics_keep_the_stated_speed() -> None:
    from detectors.spectrum import refine_speed_hz

    x = _slipping_outer_race(RPM)
    assert refine_speed_hz(x, FS, RPM / 60) == (RPM / 60, None)
    noise = np.random.default_rng(3).normal(0, 0.05, int(3 * FS))
    assert refine_speed_hz(noise, FS, RPM / 60) == (RPM / 60, None)
    # a neighbouring machine's weaker harmonics 3 % away do not overrule the unit's own
    t = np.arange(int(3 * FS)) / FS
    neighbour = x + sum(0.02 / h * np.sin(2 * np.pi * h * 1.03 * RPM / 60 * t) for h in range(1, 9))
    assert refine_speed_hz(neighbour, FS, RPM / 60) == (RPM / 60, None)
