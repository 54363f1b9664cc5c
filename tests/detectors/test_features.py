"""Features against analytic signals: known RMS, velocity, orders, envelope lines, ISO zones."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detectors.envelope import select_band, squared_envelope_spectrum
from detectors.features import snapshot_features, time_features
from detectors.iso import IsoZoneDetector, zone_limits, zone_of
from detectors.spectrum import G, Spectrum, estimate_speed_hz
from detectors.types import BearingGeometry, MachineInfo, Snapshot

FS = 25600.0


def _t(n: int, fs: float = FS) -> np.ndarray:
    return np.arange(n) / fs


@pytest.mark.parametrize("amp,freq", [(1.0, 100.0), (0.2, 37.3), (0.05, 480.0)])
def test_sine_has_the_analytic_rms_and_velocity(amp: float, freq: float) -> None:
    t = _t(25600)
    x = amp * np.sin(2 * np.pi * freq * t)
    f = time_features(x)
    assert f["rms_g"] == pytest.approx(amp / math.sqrt(2), rel=1e-3)
    assert f["crest"] == pytest.approx(math.sqrt(2), rel=1e-2)
    assert f["kurtosis"] == pytest.approx(1.5, rel=1e-2)  # a sine's kurtosis
    v_expected = amp * G * 1000 / (2 * math.pi * freq) / math.sqrt(2)
    assert Spectrum.of(x, FS).velocity_rms_mm_s(10, 1000) == pytest.approx(v_expected, rel=0.02)


def test_velocity_band_excludes_out_of_band_and_low_speed_widens_it() -> None:
    t = _t(51200)
    x = 0.5 * np.sin(2 * np.pi * 5.0 * t) + 0.01 * np.sin(2 * np.pi * 2000.0 * t)
    normal = snapshot_features(Snapshot(0, FS, x, rpm=1500), MachineInfo(rated_rpm=1500))
    slow = snapshot_features(Snapshot(0, FS, x, rpm=300), MachineInfo(rated_rpm=300))
    v5 = 0.5 * G * 1000 / (2 * math.pi * 5) / math.sqrt(2)
    assert normal["velocity_rms_mm_s"] < 0.05 * v5  # 5 Hz is outside 10-1,000 Hz
    assert slow["velocity_rms_mm_s"] == pytest.approx(v5, rel=0.05)  # inside 2-1,000 Hz


def test_short_snapshot_velocity_is_close_to_analytic() -> None:
    x = 0.1 * np.sin(2 * np.pi * 60.0 * _t(2560))
    v = snapshot_features(Snapshot(0, FS, x, rpm=1800), MachineInfo())["velocity_rms_mm_s"]
    assert v == pytest.approx(0.1 * G * 1000 / (2 * math.pi * 60) / math.sqrt(2), rel=0.1)


def test_order_amplitudes_and_speed_estimate() -> None:
    shaft = 29.5
    t = _t(25600)
    a1, a2 = 0.05, 0.02  # g
    x = a1 * np.sin(2 * np.pi * shaft * t) + a2 * np.sin(2 * np.pi * 2 * shaft * t)
    x += np.random.default_rng(0).normal(0, 0.01, t.size)
    feats = snapshot_features(Snapshot(0, FS, x), MachineInfo(rated_rpm=1800))
    assert feats["speed_estimated"] == 1.0
    assert feats["shaft_hz"] == pytest.approx(shaft, abs=0.5)
    assert feats["v1x_mm_s"] == pytest.approx(a1 * G * 1000 / (2 * math.pi * shaft), rel=0.05)
    assert feats["v2x_mm_s"] == pytest.approx(a2 * G * 1000 / (4 * math.pi * shaft), rel=0.05)
    assert estimate_speed_hz(Spectrum.of(x, FS)) == pytest.approx(shaft, abs=0.5)


def test_band_energies_sum_to_the_total() -> None:
    x = np.random.default_rng(1).normal(0, 0.3, 25600)
    feats = snapshot_features(Snapshot(0, FS, x, rpm=1800), MachineInfo())
    bands = [v for k, v in feats.items() if k.startswith("band_")]
    assert math.sqrt(sum(b * b for b in bands)) == pytest.approx(feats["rms_g"], rel=0.02)
    assert all(isinstance(v, float) and math.isfinite(v) for v in feats.values())


def test_impulse_train_peaks_at_its_rate_in_the_envelope_spectrum() -> None:
    fs, rate = 20000.0, 87.0
    t = _t(int(fs * 2), fs)
    ring = np.exp(-900 * t[:250]) * np.sin(2 * np.pi * 4200 * t[:250])
    imp = np.zeros(t.size)
    imp[(np.arange(0, 2, 1 / rate) * fs).astype(int)] = 1.0
    x = np.convolve(imp, ring)[: t.size] + np.random.default_rng(2).normal(0, 0.3, t.size)
    lo, hi, sk = select_band(x, fs, min_bw_hz=500)
    assert lo <= 4200 <= hi and sk > 0
    ses = squared_envelope_spectrum(x, fs)
    top = ses.freqs[1:][np.argmax(ses.amp[1:400])]
    assert top == pytest.approx(rate, abs=1.5)


def test_bearing_family_features_follow_the_geometry() -> None:
    geo = BearingGeometry(9, 0.3126, 1.537)
    rpm = 1800.0
    bpfi = geo.multipliers()["bpfi"] * rpm / 60
    t = _t(25600)
    ring = np.exp(-800 * t[:200]) * np.sin(2 * np.pi * 5000 * t[:200])
    imp = np.zeros(t.size)
    imp[(np.arange(0, 1, 1 / bpfi) * FS).astype(int)] = 1.0
    x = np.convolve(imp, ring)[: t.size] + np.random.default_rng(3).normal(0, 0.05, t.size)
    feats = snapshot_features(Snapshot(0, FS, x, rpm=rpm), MachineInfo(rated_rpm=rpm, bearing=geo))
    assert feats["bpfi_db"] > feats["bpfo_db"] + 3 and feats["bpfi_db"] > feats["bsf_db"] + 3


def test_iso_zone_table_override_and_hysteresis() -> None:
    assert zone_limits(1, "rigid") == (2.3, 4.5, 7.1)
    assert zone_limits(2, "flexible") == (2.3, 4.5, 7.1)
    assert zone_limits(2, override=(1, 2, 3)) == (1.0, 2.0, 3.0)
    assert zone_of(3.0, (1.4, 2.8, 4.5)) == "C"
    with pytest.raises(ValueError, match="group 7"):
        zone_limits(7)
    with pytest.raises(ValueError, match="increasing"):
        zone_limits(2, override=(3, 2, 1))
    det = IsoZoneDetector((1.4, 2.8, 4.5), hysteresis=0.1)
    assert [det.update(v) for v in (2.9, 2.75, 2.6, 2.4)] == ["C", "C", "C", "B"]


def test_features_name_bad_input() -> None:
    m = MachineInfo()
    with pytest.raises(ValueError, match="NaN"):
        snapshot_features(Snapshot(0, FS, np.array([0.0, np.nan] * 100)), m)
    with pytest.raises(ValueError, match="sample rate"):
        snapshot_features(Snapshot(0, -1.0, np.zeros(1000)), m)
    with pytest.raises(ValueError, match="at least 64"):
        snapshot_features(Snapshot(0, FS, np.zeros(10)), m)


def test_vectorised_family_scores_match_the_evidence_path() -> None:
    from detectors.diagnosis import bearing_scores

    mult = BearingGeometry(9, 0.3126, 1.537).multipliers()
    rng = np.random.default_rng(4)
    t = _t(2560)
    x = rng.normal(0, 1, 2560) * (1 + np.sin(2 * np.pi * 107 * t))
    ses = squared_envelope_spectrum(x, FS, max_level=2)
    slow = bearing_scores(ses, 30.0, mult, tol=0.02)
    fast = bearing_scores(ses, 30.0, mult, tol=0.02, evidence=False)
    assert slow.keys() == fast.keys()
    for fam in slow:
        assert fast[fam][0] == pytest.approx(slow[fam][0], abs=0.01)


def test_a_fixed_envelope_band_gives_the_same_features_as_choosing_it() -> None:
    from tests.detectors.sim import GEO, RPM, machine_signal
    m = MachineInfo(rated_rpm=RPM, bearing=GEO)
    snap = Snapshot(0, FS, machine_signal(np.random.default_rng(3), defect=0.3), rpm=RPM)
    chosen = snapshot_features(snap, m)
    fixed = snapshot_features(snap, m, band=(chosen["env_band_lo_hz"], chosen["env_band_hi_hz"]))
    for key in ("bpfo_db", "bpfi_db", "bsf_db", "env_band_lo_hz", "rms_g"):
        assert fixed[key] == pytest.approx(chosen[key], rel=1e-9, abs=1e-9)
    assert fixed["bpfo_db"] > 6  # the defect is seen in the fixed band too
    with pytest.raises(ValueError, match="envelope band"):
        snapshot_features(snap, m, band=(5000.0, 20000.0))  # beyond fs/2


@pytest.mark.parametrize(("n", "band"), [(2560, (3200.0, 6400.0)), (2560, (6000.0, 6150.0)), (4096, (9000.0, 12800.0)),
                                         (1000, (2000.0, 5000.0))])
def test_a_narrow_band_envelope_spectrum_is_the_full_length_one(n: int, band: tuple[float, float]) -> None:
    """One segment, a band under half the spectrum: the SES is computed on a shorter grid; it must
    equal the full-length computation (band's bins, inverse FFT of length n, Hann over n samples)."""
    fs = 25600.0
    rng = np.random.default_rng(n)
    t = np.arange(n) / fs
    ring = np.exp(-900 * t[:200]) * np.sin(2 * np.pi * 5000 * t[:200])
    x = np.convolve((np.arange(n) % 137 == 0).astype(float), ring)[:n] + rng.normal(0, 0.1, n)
    ses = squared_envelope_spectrum(x, fs, band=band)
    spec = np.fft.rfft(x - x.mean())
    k0, k1 = int(np.ceil(band[0] * n / fs - 1e-9)), int(np.ceil(band[1] * n / fs - 1e-9))
    full = np.zeros(n, dtype=complex)
    full[k0:k1] = spec[k0:k1]
    env2 = np.abs(np.fft.ifft(full) * 2.0) ** 2
    w = np.hanning(n)
    ref = np.abs(np.fft.rfft((env2 - env2.mean()) * w)) * 2.0 / w.sum()
    m = k1 - k0
    assert ses.amp.shape == ref.shape
    np.testing.assert_allclose(ses.amp[:m], ref[:m], rtol=0, atol=1e-4 * ref.max())
    assert np.abs(ses.amp[m + 2:]).max(initial=0.0) <= 1e-4 * ref.max()  # nothing above the band's width
    assert ses.kurtosis == pytest.approx(float(np.mean(env2**2) / np.mean(env2) ** 2 - 2.0), rel=1e-9)


@pytest.mark.parametrize("kwargs,message", [
    (dict(n_balls=9, ball_d=40.0, pitch_d=39.0), "need 0 < ball_d < pitch_d, got ball_d=40.0, pitch_d=39.0"),
    (dict(n_balls=9.5, ball_d=7.94, pitch_d=39.04), "n_balls must be a whole number, got 9.5"),
    (dict(n_balls="9", ball_d=7.94, pitch_d=39.04), "bearing n_balls must be a finite number, got '9'"),
    (dict(n_balls=9, ball_d=None, pitch_d=39.04), "bearing ball_d must be a finite number, got None"),
    (dict(n_balls=9, ball_d=7.94, pitch_d=float("inf")), "bearing pitch_d must be a finite number, got inf"),
    (dict(n_balls=9, ball_d=7.94, pitch_d=39.04, contact_deg="10"), "bearing contact_deg must be a finite number"),
])
def test_an_impossible_bearing_geometry_is_a_named_error(kwargs: dict, message: str) -> None:
    # a fractional ball count and an infinite pitch gave defect frequencies (BSF = inf) instead
    with pytest.raises(ValueError) as err:
        BearingGeometry(**kwargs)
    assert message in str(err.value)


@pytest.mark.parametrize("kwargs,message", [
    (dict(rated_rpm=0), "rated_rpm must be a positive number or None (not known), got 0"),
    (dict(rated_rpm=-100.0), "got -100.0"),
    (dict(rated_rpm=float("nan")), "got nan"),
    (dict(rated_rpm="1800"), "got '1800'"),
    (dict(bearing={"n_balls": 9, "ball_d": 7.94, "pitch_d": 39.04}), "bearing must be a BearingGeometry or None"),
])
def test_impossible_machine_data_is_a_named_error(kwargs: dict, message: str) -> None:
    # these were accepted and then judged every snapshot as 'away from the rated -100 rpm', or
    # raised TypeError / AttributeError from inside UnitMonitor.update_snapshot
    with pytest.raises(ValueError) as err:
        MachineInfo(**kwargs)
    assert message in str(err.value)


def test_machine_data_of_numpy_types_is_accepted() -> None:
    geo = BearingGeometry(np.int64(9), np.float64(7.94), 39.04)
    assert MachineInfo(rated_rpm=np.float64(1800.0), bearing=geo).bearing.multipliers() == \
        BearingGeometry(9, 7.94, 39.04).multipliers()


@pytest.mark.parametrize("snapshot,message", [
    (Snapshot(0, None, np.zeros(1000)), "sample rate None is not a positive number"),
    (Snapshot(0, FS, np.ones(1000), rpm="1800"), "speed '1800' rpm is not a non-negative number"),
    (Snapshot(0, FS, np.ones(1000), rpm=float("inf")), "speed inf rpm"),
    (Snapshot(0, FS, np.array(["a"] * 1000)), "samples are not numbers"),
    (Snapshot(0, FS, np.ones(1000, dtype=complex)), "samples are not numbers (dtype complex128)"),
    (Snapshot(0, FS, np.ones(1000) * 1e200), "beyond any accelerometer"),
])
def test_features_name_every_kind_of_bad_input(snapshot: Snapshot, message: str) -> None:
    # these raised TypeError, or warned (ComplexWarning, overflow) and returned non-finite features
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError) as err:
            snapshot_features(snapshot, MachineInfo())
    assert str(err.value).startswith("cannot measure the snapshot: ") and message in str(err.value)
