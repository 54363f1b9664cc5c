"""Work the commissioning snapshot shares or no longer repeats gives the very same numbers.

A unit's first ``warmup`` snapshots run the baseline-free diagnosis besides the monitor's features
(``bench/detectors_cost.py``, ``monitor_commissioning``). To keep that under the cost target the
diagnosis takes what the monitor has already computed and checked, the envelope band is chosen
over every level in one pass, only the named family's evidence lines are located, and the search
windows of a speed and bearing on a grid are worked out once. Each must change no number: checked
here against the computation it replaces, bit for bit, on random and synthetic fault snapshots.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft as sfft

import detectors.monitor as monitor_module
from detectors import UnitMonitor, diagnose
from detectors.diagnosis import _plan, _read_families, _read_lines, envelope_segment_s
from detectors.envelope import SES, _select, squared_envelope_spectrum
from detectors.spectrum import Spectrum
from detectors.types import BearingGeometry, MachineInfo, Snapshot
from tests.detectors.sim import FS, GEO, RPM, machine_signal, snap

MACHINE = MachineInfo(rated_rpm=RPM, bearing=GEO)


def _select_level_by_level(spec: np.ndarray, fs: float, n: int, max_level: int, min_bw_hz: float
                           ) -> tuple[float, float, float]:
    """The band choice as it was before it went in one pass: each level's negentropies on their own,
    the chosen band's kurtosis from its own inverse transform."""
    def negentropies(block: np.ndarray) -> np.ndarray:
        z = sfft.ifft(block, axis=1)
        e = z.real ** 2 + z.imag ** 2
        s = np.abs(sfft.rfft(e - e.mean(axis=1, keepdims=True), axis=1))[:, 1:] ** 2
        m = s.mean(axis=1, keepdims=True)
        r = s / np.where(m > 0, m, 1.0)
        ne = np.mean(r * np.log(np.maximum(r, 1e-300)), axis=1)
        return np.where(m[:, 0] > 0, ne, 0.0)

    nyq_bins = spec.size - 1
    hz = fs / n
    best, best_ne = (1, nyq_bins), -np.inf
    for level in range(1, max_level + 1):
        n_bands = 2 ** level
        width = nyq_bins // n_bands
        if width < 16 or width * hz < min_bw_hz:
            break
        bands = [b for b in range(n_bands) if max(b * width, 1) * hz >= min_bw_hz]
        rows = [b for b in bands if b > 0]
        found = []
        if rows:
            block = spec[rows[0] * width:(rows[-1] + 1) * width].reshape(len(rows), width)
            found += zip(rows, negentropies(block), strict=True)
        if bands and bands[0] == 0:
            found.insert(0, (0, float(negentropies(spec[None, 1:width])[0])))
        for b, ne in found:
            if ne > best_ne:
                best, best_ne = (max(b * width, 1), (b + 1) * width), ne
    z = sfft.ifft(spec[best[0]:best[1]])
    e = z.real ** 2 + z.imag ** 2
    m2 = float(e.mean())
    kurt = -2.0 if m2 <= 0 else float(np.mean(e * e)) / (m2 * m2) - 2.0
    return best[0] * hz, best[1] * hz, kurt


def _impacts(rng: np.random.Generator, n: int, fs: float, rate_hz: float, carrier_hz: float, amp: float) -> np.ndarray:
    t = np.arange(n) / fs
    ring = np.exp(-rng.uniform(500, 1500) * t[:300]) * np.sin(2 * np.pi * carrier_hz * t[:300])
    imp = np.zeros(n)
    imp[(np.arange(rng.uniform(0, 1 / rate_hz), n / fs, 1 / rate_hz) * fs).astype(int)] = amp
    return np.convolve(imp, ring)[:n]


def _records(count: int, seed: int) -> list[tuple[Snapshot, MachineInfo]]:
    """Noise, bearing defects of every family (of two bearings) and shaft-order trains, at several
    rates, lengths and speeds, stated or not; and machines without geometry."""
    rng = np.random.default_rng(seed)
    geos = [GEO, BearingGeometry(8, 0.2656, 1.122), None]
    out = []
    for i in range(count):
        fs = float(rng.choice([12000.0, 25600.0, 48000.0]))
        n = int(rng.choice([2560, 4096, 25600]))
        rpm = float(rng.uniform(600, 3600))
        geo = geos[i % 3]
        t = np.arange(n) / fs
        x = rng.normal(0, rng.uniform(0.01, 0.2), n) + 0.02 * np.sin(2 * np.pi * rpm / 60 * t)
        if i % 4 in (1, 2) and geo is not None:
            fam = ("bpfo", "bpfi", "bsf")[i % 3 if i % 4 == 1 else int(rng.integers(3))]
            rate = geo.multipliers()[fam] * rpm / 60 * (2 if fam == "bsf" else 1)
            x = x + _impacts(rng, n, fs, rate, rng.uniform(0.1, 0.4) * fs, rng.uniform(0.05, 2.0))
        elif i % 4 == 3:
            for o in (0.5, 1, 1.5, 2, 3, 4, 5, 6):
                x = x + rng.uniform(0, 0.3) * o * rpm / 60 / 15 * np.sin(2 * np.pi * o * rpm / 60 * t + rng.uniform(0, 6))
        out.append((Snapshot(ts=float(i), fs=fs, samples=x.astype(np.float32), rpm=None if i % 7 == 0 else rpm),
                    MachineInfo(rated_rpm=rpm, bearing=geo)))
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_the_band_chosen_in_one_pass_is_the_band_chosen_level_by_level(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(150):
        n = int(rng.choice([256, 511, 2560, 2561, 4096, 25600]))
        fs = float(rng.choice([12000.0, 25600.0, 48000.0]))
        x = rng.normal(0, 1, n)
        if rng.uniform() < 0.5:
            x = 0.1 * x + _impacts(rng, n, fs, rng.uniform(20, 300), rng.uniform(0.05, 0.45) * fs, rng.uniform(0.5, 5))
        spec = sfft.rfft(x - x.mean())
        for max_level in (2, 4):
            min_bw = float(rng.choice([0.0, rng.uniform(0, fs / 4), fs / 8]))  # 0: band 0 is searched too
            assert _select(spec, fs, n, max_level, min_bw) == _select_level_by_level(spec, fs, n, max_level, min_bw)


def test_the_diagnosis_given_the_monitors_pieces_is_the_diagnosis_on_its_own() -> None:
    """What the monitor hands over (the snapshot's spectrum, its checks) changes nothing, whatever the
    diagnosis names: the mode, the confidence and every evidence line."""
    named = set()
    for s, machine in _records(120, seed=3):
        sp = Spectrum.of(np.asarray(s.samples).astype(np.float64), s.fs)
        alone = diagnose(s, machine)
        named.add(alone[0])
        assert diagnose(s, machine, spectrum=sp, checked=True) == alone
    # the records reach every branch: each bearing part, a shaft fault, nothing
    assert {"outer_race", "inner_race", "ball", None} <= named and named & {"imbalance", "misalignment", "looseness"}


def test_the_monitor_diagnoses_each_commissioning_snapshot_as_the_diagnosis_alone_does(monkeypatch) -> None:
    """The commissioning check gets the diagnosis the record would get on its own: a unit whose outer
    race fails while it commissions (healthy, then lines, then a warning that pauses the learning)."""
    seen: list[tuple[Snapshot, tuple]] = []
    real = monitor_module.diagnose

    def spy(snapshot: Snapshot, machine: MachineInfo, **kw):
        got = real(snapshot, machine, **kw)
        seen.append((snapshot, got))
        return got

    monkeypatch.setattr(monitor_module, "diagnose", spy)
    rng = np.random.default_rng(4)
    mon = UnitMonitor(MACHINE)
    states = [mon.update_snapshot(snap(600.0 * i, machine_signal(rng, defect=0.0 if i < 8 else 0.05 * (i - 7)))).state
              for i in range(20)]
    assert len(seen) == 20 and "warning" in states
    assert any(got[0] == "outer_race" for _, got in seen)
    for s, got in seen:
        assert got == diagnose(s, MACHINE)


def _read_lines_eager(ses: SES, f: np.ndarray, tol: float, shaft_hz: float):
    """Every line's (found frequency, amplitude, background) as read before the lines were located only
    on demand and their search windows cached per grid."""
    df = ses.df
    n = ses.amp.size
    half = np.maximum(tol * f + df, df)
    i0 = np.clip(np.searchsorted(ses.freqs, f - half), 1, n - 1)
    i1 = np.maximum(np.clip(np.searchsorted(ses.freqs, f + half + 1e-9), 1, n), i0 + 1)
    amp = ses.amp
    separable = np.abs(f - np.round(f / shaft_hz) * shaft_hz) > 2.5 * df
    masked = amp
    if separable.any():
        on_shaft = np.abs(ses.freqs - np.round(ses.freqs / shaft_hz) * shaft_hz) <= 2 * df
        on_shaft[0] = False
        peak_bin = np.ones(n, dtype=bool)
        peak_bin[1:-1] = (amp[1:-1] >= amp[:-2]) & (amp[1:-1] >= amp[2:])
        masked = np.where(on_shaft | ~peak_bin, 0.0, amp)
    found, peak = [], []
    for j in range(f.size):
        src = masked if separable[j] else amp
        k = int(i0[j]) + int(np.argmax(src[i0[j]:i1[j]]))
        found.append(float(ses.freqs[k]))
        peak.append(float(src[k]))
    return found, peak, ses.background_at(f).tolist()


def test_lines_located_on_demand_with_cached_windows_are_the_lines_read_eagerly() -> None:
    """Every line (found frequency, amplitude, background) at the diagnosis' and the features'
    tolerances, on the cached grid and on a writable copy (worked out afresh); and the diagnosis'
    evidence is the named family's lines."""
    checked = 0
    for s, machine in _records(60, seed=5):
        if machine.bearing is None or s.rpm is None:
            continue
        x = np.asarray(s.samples, dtype=np.float64)
        mult, shaft_hz = machine.bearing.multipliers(), s.rpm / 60
        top_f = 3.5 * max(mult["bpfi"], 2 * mult["bsf"]) * shaft_hz
        if 2 * top_f >= s.fs:
            continue
        ses = squared_envelope_spectrum(x, s.fs, min_bw_hz=top_f, segment_s=envelope_segment_s(mult, shaft_hz, x.size / s.fs))
        fresh = SES(freqs=ses.freqs.copy(), amp=ses.amp, band_hz=ses.band_hz, kurtosis=ses.kurtosis)
        assert not ses.freqs.flags.writeable and fresh.freqs.flags.writeable
        f = _plan(float(shaft_hz), tuple(sorted(mult.items())), float(ses.freqs[-1] * 0.9), True, True)[1]
        for tol in (0.01, 0.02):
            want = _read_lines_eager(ses, f, tol, shaft_hz)
            for spectrum in (ses, fresh):
                amp, floor, located = _read_lines(spectrum, f, tol, shaft_hz)
                assert ([located(j) for j in range(f.size)], amp.tolist(), floor.tolist()) == want
        mode, _, ev = diagnose(s, machine)
        if mode in ("outer_race", "inner_race", "ball"):
            _, lines = _read_families(ses, shaft_hz, mult, 0.01, 0.5, 1.0, False)
            assert ev[:-1] == lines({"outer_race": "bpfo", "inner_race": "bpfi", "ball": "bsf"}[mode])
            checked += 1
    assert checked >= 5


def test_the_search_windows_cached_per_grid_follow_the_speed_and_the_tolerance() -> None:
    """Reading the same grid at another speed or tolerance (the features read at 2 %, the diagnosis
    at 1 %) reads its own windows, not the cached ones of the first."""
    rng = np.random.default_rng(6)
    x = rng.normal(0, 0.05, 25600) + _impacts(rng, 25600, FS, 107.0, 5000.0, 0.5)
    ses = squared_envelope_spectrum(x, FS, min_bw_hz=600.0)  # 1 Hz bins: the tolerances differ by bins
    assert not ses.freqs.flags.writeable
    # 110 Hz reaches the 107 Hz line only at 2 %, and only at 30 Hz: at 26.75 Hz the line is 4x the shaft
    lines = np.array([110.0, 124.0, 214.0, 330.0])
    lines.flags.writeable = False
    fresh = SES(freqs=ses.freqs.copy(), amp=ses.amp, band_hz=ses.band_hz, kurtosis=ses.kurtosis)
    reads = {}
    for shaft_hz, tol in [(30.0, 0.01), (30.0, 0.02), (26.75, 0.02), (30.0, 0.01)]:
        amp, floor, located = _read_lines(ses, lines, tol, shaft_hz)
        amp2, floor2, located2 = _read_lines(fresh, lines.copy(), tol, shaft_hz)
        reads[shaft_hz, tol] = ([located(j) for j in range(lines.size)], amp.tolist(), floor.tolist())
        assert reads[shaft_hz, tol] == ([located2(j) for j in range(lines.size)], amp2.tolist(), floor2.tolist())
    assert reads[30.0, 0.01] != reads[30.0, 0.02] and reads[30.0, 0.02] != reads[26.75, 0.02]


def test_a_spectrum_is_the_same_with_its_window_and_grid_cached() -> None:
    rng = np.random.default_rng(7)
    for n, fs in [(256, FS), (2560, FS), (2560, 12000.0), (2561, FS), (16384, 48000.0), (16384, FS)]:
        x = rng.normal(0, 0.1, n) + 0.3
        w = np.hanning(n + 2)[1:-1]
        spec = sfft.rfft((x - x.mean()) * w)
        ww = float(np.dot(w, w)) if n <= 8192 else float(np.einsum("i,i->", w, w))  # as detectors.robust.dot
        power = (spec.real ** 2 + spec.imag ** 2) * (2.0 / (n * ww))
        power[0] *= 0.5
        if n % 2 == 0:
            power[-1] *= 0.5
        sp = Spectrum.of(x, fs)
        assert sp.power.tobytes() == power.tobytes()
        assert sp.freqs.tobytes() == np.fft.rfftfreq(n, 1.0 / fs).tobytes() and not sp.freqs.flags.writeable
