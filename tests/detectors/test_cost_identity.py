"""The per-snapshot work cut for cost (shared, cached, or in plain floats) gives the very same numbers.

Each piece is checked here, bit for bit, against the code it replaced (copied below as it was on
main), on random and synthetic inputs; ``bench/cost_identity.py`` checks the monitor as a whole
against another tree (every assessment and saved state of the bench's and the fleets' streams).
Each check was seen failing with its sharing broken on purpose (a cache key without the weights,
the speed or the grid; the reductions of another snapshot).
"""

from __future__ import annotations

import json
import math
import statistics

import numpy as np
import pytest
import scipy.fft as sfft

import detectors.prognosis as prognosis
from detectors import UnitMonitor
from detectors.envelope import squared_envelope_spectrum
from detectors.explain import _hf_keys
from detectors.features import snapshot_features, time_features
from detectors.mahalanobis import Mahalanobis
from detectors.monitor import _median, _watched
from detectors.prognosis import ExpTrend, _first_reaches, _latest_crossing, _t_quantile, _wls_solve
from detectors.robust import as_number, dot, median, row_medians
from detectors.sensor import check_sensor, fingerprint
from detectors.shaft import _ORDERS, _ORDERS_ARR, _backgrounds_mm_s, shaft_pattern
from detectors.spectrum import G, Spectrum, ifft, rfft
from detectors.types import MachineInfo, Samples, Snapshot, checked_samples, snapshot_problem
from detectors.zscore import RobustZScore
from tests.detectors.sim import FS, GEO, RPM, machine_signal, snap

HORIZON_MAX = prognosis.HORIZON_MAX


# ---------------------------------------------------------------- the code replaced, as it was on main

# main's _first_reach, one bound at a time (replaced by _first_reaches, which solves the quadratic once)
def _first_reach(gap: float, slope: float, c0: float, c1: float, c2: float, sign: float) -> float | None:
    """First horizon ``g`` in ``[0, HORIZON_MAX]`` where a bound of the predicted level reaches the
    limit: ``slope·g + sign·sqrt(c0 + c1·g + c2·g²) >= gap`` (``gap``: the limit over the level now;
    ``sign`` +1 for the upper bound, -1 for the lower); None when it does not within the horizon.

    Where the bound meets the limit, ``gap - slope·g = sign·sd(g)``; squared, a quadratic in ``g``
    whose roots on the bound's own side (``gap - slope·g`` of the sign's sign) are the crossings.
    """
    if sign * math.sqrt(max(c0, 0.0)) >= gap:
        return 0.0
    qa, qb, qc = slope * slope - c2, -2.0 * slope * gap - c1, gap * gap - c0
    if abs(qa) <= 1e-12 * max(slope * slope, c2):
        roots = [-qc / qb] if qb else []
    else:
        disc = qb * qb - 4.0 * qa * qc
        if disc < 0:
            return None
        t = -0.5 * (qb + math.copysign(math.sqrt(disc), qb))  # the numerically stable pair
        roots = [t / qa, qc / t] if t else [t / qa]
    tol = 1e-12 * max(abs(gap), 1.0)
    best = None
    for g in roots:
        if 0.0 <= g <= HORIZON_MAX and sign * (gap - slope * g) >= -tol and (best is None or g < best):
            best = g
    return best


def _old_time_to_inner(tt: np.ndarray, ys: np.ndarray, w: np.ndarray,
             limits: list[float]) -> list[tuple[float, float, float] | None]:
    """The column fits as main computed them."""
    k = ys.shape[1]
    n = tt.size
    scale = float(-tt[0]) or 1.0
    tau = tt / scale  # in units of the fitted span, for a well-conditioned quadratic fit
    # one design [1, τ, τ²] and its weighted moments serve the three fits below (the straight
    # line of log h, the quadratic, and the straight line of h for the latest plausible crossing)
    v = np.empty((n, 3))
    v[:, 0], v[:, 1], v[:, 2] = 1.0, tau, tau * tau
    vtw = v.T * w
    mom = vtw @ v
    # the straight lines of log h and of h itself (for the latest plausible crossing) in one solve
    both = _wls_solve(mom[:2, :2], vtw[:2], v[:, :2], np.hstack([ys, np.exp(ys)]), w)
    if both is None:
        return [None] * k
    beta, inv, s2, dof = both
    line = (beta[:, k:], inv, s2[k:], dof)
    beta, s2 = beta[:, :k], s2[:k]
    quad = _wls_solve(mom, vtw, v, ys, w) if n >= 6 else None
    inv2 = inv.tolist()  # plain floats for the per-model arithmetic below
    quad_inv2 = quad[1][:2, :2].tolist() if quad is not None else None
    q2 = _t_quantile(dof) ** 2
    q = math.sqrt(q2)
    w_sum = float(w.sum())
    out: list[tuple[float, float, float] | None] = [None] * k
    for j in range(k):
        a, b = float(beta[0, j]), float(beta[1, j])
        s2j = float(s2[j])
        se_b = math.sqrt(max(s2j * inv[1, 1], 0.0))
        log_lim = math.log(limits[j])
        gap = log_lim - a
        # "rising": the slope above 2 standard errors, the weights counted as n/Σw points each
        # (the monitor reads "no estimate" as "no rising trend": a level step, not wear)
        if gap > 0 and (b <= 2 * se_b * n / w_sum or b <= 0):
            continue  # below the limit and no significant rise
        if b <= 0:
            out[j] = (0.0, 0.0, 0.0)
            continue
        est = max(gap, 0.0) / b
        unit = max(est, abs(gap) / b, 1e-6)
        models = [(a, b, inv2, s2j)]
        rate_err = 0.0
        if quad is not None:
            b0 = float(quad[0][1, j])
            # current rate (slope at the last point) vs the window's average, less what the
            # current rate's own noise explains (on a true exponential the two differ by noise)
            rate_err = math.sqrt(max((b0 - b) ** 2 - float(quad[2][j]) * quad[1][1, 1], 0.0))
            if b0 > 0:
                models.append((float(quad[0][0, j]), b0, quad_inv2, float(quad[2][j])))
        if quad is not None and b0 > b:  # accelerating beyond noise: the rate ahead is higher
            est = max(gap, 0.0) / (b + rate_err)
        low, high = est, est
        for m_a, m_b, m_inv, m_s2 in models:
            # at horizon T = u·g the log level is a + b·T, with variance
            # s2·(1 + i00 + 2·T·i01 + T²·i11) + (rate_err·T)²: a quadratic in g
            c0 = q2 * m_s2 * (1.0 + m_inv[0][0])
            c1 = q2 * 2.0 * m_s2 * m_inv[0][1] * unit
            c2 = q2 * (m_s2 * m_inv[1][1] + rate_err * rate_err) * unit * unit
            # first horizon where each bound reaches the limit; none: est for the low, the end for the high
            up = _first_reach(log_lim - m_a, m_b * unit, c0, c1, c2, +1.0)
            down = _first_reach(log_lim - m_a, m_b * unit, c0, c1, c2, -1.0)
            if up is not None:
                low = min(low, unit * up)
            high = max(high, unit * (down if down is not None else HORIZON_MAX))
        high = max(min(high, _latest_crossing(line, j, limits[j], q)), est)
        if gap > 0:  # the accelerating model (1/h on a straight line), as prognosis has it since 2026-11-22
            f = -math.expm1(-gap) / gap
            est *= math.sqrt(f)
            low *= f
        out[j] = (float(est * scale), float(low * scale), float(high * scale))
    return out


def _old_time_to(self: ExpTrend, limit: float, since: float | None = None,
                 floor: float | None = None) -> tuple[float, float, float] | None:
    """The time to failure as main computed it (no design cache, numpy scalars)."""
    d = self._data(since)
    if d is None or limit <= 0:
        return None
    tt, y, w, _ = d
    keep = None
    if floor is not None and 0 < floor < limit / 1.1:
        keep = y > math.log(1.1 * floor)
        if int(keep.sum()) < self.min_points:
            keep = None
    if keep is None:
        return _old_time_to_inner(tt, y[:, None], w, [limit])[0]
    excess_y = 0.5 * np.log(np.exp(2 * y[keep]) - floor * floor)
    excess_limit = math.sqrt(limit * limit - floor * floor)
    if keep.all():  # the usual case once a fault shows: both models on the same times, in one pass
        plain, excess = _old_time_to_inner(tt, np.column_stack([y, excess_y]), w, [limit, excess_limit])
    else:
        plain = _old_time_to_inner(tt, y[:, None], w, [limit])[0]
        excess = _old_time_to_inner(tt[keep], excess_y[:, None], w[keep], [excess_limit])[0]
    if plain is None:
        return excess
    if excess is not None:
        return plain[0], min(plain[1], excess[1]), max(plain[2], excess[2])
    return plain


def _old_order_amplitudes(sp: Spectrum, shaft_hz: float, orders, tol: float = 0.03) -> np.ndarray:
    target = np.asarray(orders, dtype=np.float64) * shaft_hz
    half = np.maximum(target * tol, sp.df)
    m = target.size
    bounds = np.searchsorted(sp.freqs, np.concatenate([target - half, target + half + 1e-9])).tolist()
    pw, size, nyq = sp.power, sp.power.size, sp.fs / 2
    out = []
    for f, i0, i1 in zip(target.tolist(), bounds[:m], bounds[m:], strict=True):
        if not (0 < f < nyq and i1 > i0):
            out.append(0.0)
            continue
        seg = pw[i0:i1].tolist()
        k = i0 + seg.index(max(seg))
        p = (float(pw[k - 1]) if k >= 2 else 0.0) + (float(pw[k]) if k >= 1 else 0.0) \
            + (float(pw[k + 1]) if k + 1 < size else 0.0)
        out.append(math.sqrt(2 * p) * G * 1000.0 / (2 * math.pi * f))
    return np.asarray(out)


def _old_velocity(sp: Spectrum, lo: float, hi: float) -> float:
    i0, i1 = np.searchsorted(sp.freqs, [lo - 1e-9, hi + 1e-9])
    i0 = max(i0, 2)
    if i1 <= i0:
        return 0.0
    f = sp.freqs[i0:i1]
    vel2 = sp.power[i0:i1] * (G * 1000.0 / (2 * math.pi)) ** 2 / (f * f)
    return math.sqrt(float(vel2.sum()))


def _old_bands(sp: Spectrum, edges: list[float]) -> list[float]:
    idx = np.searchsorted(sp.freqs, edges).tolist()
    return [math.sqrt(float(sp.power[i0:i1].sum())) for i0, i1 in zip(idx[:-1], idx[1:], strict=True)]


def _old_backgrounds(sp: Spectrum, f: np.ndarray, shaft_hz: float) -> np.ndarray:
    half = max(0.25 * shaft_hz, 6 * sp.df)
    m = f.size
    bounds = np.searchsorted(sp.freqs, np.concatenate([np.maximum(f - half, sp.df), f + half, f])).tolist()
    size = sp.power.size
    top = min(max(bounds[m:2 * m], default=0), size)
    vel = [0.0, 0.0] + (sp.power[2:top] / sp.freqs[2:top] ** 2).tolist() if top > 2 else []
    out = []
    for i0, i1, k in zip(bounds[:m], bounds[m:2 * m], bounds[2 * m:], strict=True):
        i0, i1 = max(i0, 2), min(i1, top)
        vals = sorted(vel[max(i0, 0):max(min(k - 4, i1), i0)] + vel[max(min(i1, k + 5), i0):i1])
        c = len(vals)
        out.append((vals[(c - 1) // 2] + vals[c // 2]) / 2 if c else 0.0)
    p = np.asarray(out) * f * f
    return np.sqrt(2 * 3 * p) * 9806.65 / (2 * math.pi * f)


def _old_spectrum(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    n = x.size
    w = np.hanning(n + 2)[1:-1]
    scale = 2.0 / (n * dot(w, w))
    spec = sfft.rfft((x - np.add.reduce(x) / n) * w)
    power = (spec.real ** 2 + spec.imag ** 2) * scale
    power[0] *= 0.5
    if n % 2 == 0:
        power[-1] *= 0.5
    return np.fft.rfftfreq(n, 1.0 / fs), power


def _old_time_features(x: np.ndarray) -> dict[str, float]:
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean()
    c = x - mean
    var = dot(c, c) / c.size
    rms = float(np.sqrt(dot(x, x) / x.size))
    peak = float(np.max(np.abs(x)))
    std = np.sqrt(var)
    if std > 0:
        z = c / std
        z2 = z * z
        kurt, skew = dot(z2, z2) / z.size, dot(z2, z) / z.size
    else:
        kurt, skew = 0.0, 0.0
    return {"rms_g": rms, "peak_g": peak, "p2p_g": float(x.max() - x.min()), "crest": peak / rms if rms > 0 else 0.0,
            "kurtosis": kurt, "skewness": skew}


def _old_watched(feats: dict[str, float]) -> dict[str, float]:
    log_keys = ("rms_g", "velocity_rms_mm_s", "v1x_mm_s", "v2x_mm_s", "v3x_mm_s")
    out: dict[str, float] = {}
    for k, v in feats.items():
        if k in log_keys or (k.startswith("band_") and k.endswith("_g")):
            out[k] = math.log(max(v, 1e-9))
        elif k in ("kurtosis", "crest", "env_kurtosis", "bpfo_db", "bpfi_db", "bsf_db"):
            out[k] = v
    bands = [k for k in out if k.startswith("band_") and float(k.split("_")[1]) >= 1000]
    if bands:
        out["hf"] = math.log(max(sum(math.exp(2 * out[k]) for k in bands), 1e-18)) / 2
    return out


def _old_snapshot_problem(snapshot: Snapshot, min_samples: int = 256, max_g: float = 1e5) -> str | None:
    raw = np.asarray(snapshot.samples)
    if raw.dtype.kind not in "biuf":
        return f"samples are not numbers (dtype {raw.dtype})"
    if raw.size < min_samples:
        return f"{raw.size} samples, at least {min_samples} are needed"
    bad = int(np.count_nonzero(~np.isfinite(raw))) if raw.dtype.kind == "f" else 0
    if bad:
        return f"{bad} NaN or infinite samples"
    peak = float(np.abs(raw.astype(np.float64)).max())
    if peak > max_g:
        return f"samples reach {peak:.3g} g, beyond any accelerometer ({max_g:g} g)"
    return None


# ---------------------------------------------------------------- inputs

def _trend_points(rng: np.random.Generator, n: int, *, regular: bool) -> list[tuple[float, float]]:
    t = np.arange(n) * 600.0 if regular else np.cumsum(rng.uniform(300.0, 900.0, n))
    growth = rng.uniform(-0.002, 0.03)
    bend = rng.uniform(0.0, 0.002)
    level = rng.uniform(0.02, 2.0) * np.exp(growth * np.arange(n) + bend * np.arange(n) ** 2 / 2)
    level = level * (1 + rng.uniform(0.0, 0.2) * rng.normal(size=n)) + rng.uniform(0, 0.3) * level[0]
    return [(float(a), float(b)) for a, b in zip(t, np.abs(level) + 1e-6, strict=True)]


def _signals(count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        x = machine_signal(rng, gain=rng.uniform(0.3, 3.0), defect=rng.choice([0.0, 0.0, 0.2, 1.0]),
                           family=str(rng.choice(["bpfo", "bpfi", "bsf"])))
        t = np.arange(x.size) / FS
        for o in (0.5, 1, 2, 3, 4, 5, 6):  # shaft orders of random size
            x = x + rng.uniform(0, 0.03) * np.sin(2 * np.pi * o * RPM / 60 * t + rng.uniform(0, 6))
        out.append(x.astype(np.float32).astype(np.float64) if i % 2 else x)
    return out


# ---------------------------------------------------------------- prognosis

def _trends(seed: int, count: int) -> list[tuple[ExpTrend, float, float | None]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        window = int(rng.choice([16, 32, 48]))
        tr = ExpTrend(window, min_points=int(rng.choice([4, 8])))
        for t, v in _trend_points(rng, int(rng.integers(5, 70)), regular=i % 3 != 0):
            tr.update(t, v)
        last = math.exp(tr.points[-1][1])
        floor = None if i % 4 == 0 else last * rng.uniform(0.2, 1.2)
        out.append((tr, last * rng.uniform(1.05, 20.0), floor))
    return out


def test_the_time_to_failure_is_main_s_bit_for_bit_with_the_design_cached() -> None:
    prognosis._DESIGNS.clear()
    cases = _trends(0, 600)
    for _ in range(2):  # the second pass reads every design from the cache
        for tr, limit, floor in cases:
            for since in (None, tr.points[len(tr.points) // 3][0]):
                assert tr.time_to(limit, since, floor=floor) == _old_time_to(tr, limit, since, floor=floor)


def test_the_design_cache_tells_apart_the_same_times_with_other_weights() -> None:
    # two windows on the very same times: the same tt, other weights (a cache keyed on the times alone fails)
    rng = np.random.default_rng(1)
    pts = _trend_points(rng, 16, regular=True)
    for window in (16, 48, 32, 24):
        tr = ExpTrend(window)
        for t, v in pts:
            tr.update(t, v)
        limit = pts[-1][1] * 3  # (the points are (time, level))
        assert tr.time_to(limit, floor=pts[0][1] * 0.5) == _old_time_to(tr, limit, floor=pts[0][1] * 0.5)


def test_both_bounds_crossings_from_one_quadratic_are_each_bound_s_own() -> None:
    rng = np.random.default_rng(2)
    cases = [(rng.normal() * 3, rng.normal() * 2, abs(rng.normal()) * rng.choice([0.0, 1e-6, 1.0, 30.0]),
              rng.normal() * rng.choice([0.0, 1.0]), abs(rng.normal()) * rng.choice([0.0, 1e-3, 1.0, 50.0]))
             for _ in range(20000)]
    cases += [(1.0, 1.0, 0.0, 0.0, 1.0), (1.0, 1.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0, 0.0), (-1.0, 1.0, 4.0, 0.0, 0.0)]
    for gap, slope, c0, c1, c2 in cases:
        assert _first_reaches(gap, slope, c0, c1, c2) == (_first_reach(gap, slope, c0, c1, c2, +1.0),
                                                          _first_reach(gap, slope, c0, c1, c2, -1.0))


# ---------------------------------------------------------------- the snapshot's reductions

def test_the_snapshot_s_reductions_made_once_are_those_each_reader_made() -> None:
    m = MachineInfo(rated_rpm=RPM, bearing=GEO)
    for i, x in enumerate(_signals(40, 3)):
        s = snap(float(i), x)
        problem, x64, magnitude, peak = checked_samples(s)
        assert problem is None and np.array_equal(x64, np.asarray(s.samples).astype(np.float64))
        smp = Samples(x64, magnitude, peak)
        assert fingerprint(x64, smp) == fingerprint(x64) == [float(x64.sum()), dot(x64, x64), float(x64[0]), float(x64[-1])]
        assert (smp.hi, smp.lo, smp.peak) == (float(x64.max()), float(x64.min()), float(np.abs(x64).max()))
        assert check_sensor(x64, None, samples=smp) == check_sensor(x64, None)
        sp = Spectrum.of(x64, FS, total=smp.total)
        freqs, power = _old_spectrum(x64, FS)
        assert np.array_equal(sp.power, power) and np.array_equal(sp.freqs, freqs)
        assert np.array_equal(sp.centred_rfft(), sfft.rfft(x64 - x64.mean()))
        shared = snapshot_features(s, m, spectrum=sp, checked=True, samples=smp)
        alone = snapshot_features(s, m)
        assert shared == alone
        assert {k: shared[k] for k in _old_time_features(x64)} == _old_time_features(x64) == time_features(x64)


def test_another_snapshot_s_reductions_would_show() -> None:
    # the check above would see reductions of the wrong samples (sharing broken on purpose)
    a, b = _signals(2, 4)
    sa = checked_samples(snap(0.0, a))
    sb = Samples(*checked_samples(snap(1.0, b))[1:])
    wrong = snapshot_features(snap(0.0, a), MachineInfo(rated_rpm=RPM), samples=Samples(sa[1], sb.magnitude, sb.peak))
    assert wrong != snapshot_features(snap(0.0, a), MachineInfo(rated_rpm=RPM))


def test_the_sensor_faults_are_found_the_same_with_the_shared_reductions() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, 2560)
    faulty = [np.clip(x, -1.5, 1.5), x.copy(), x.copy(), np.full(2560, 0.5), x]
    faulty[1][[100, 900]] = 40.0
    faulty[2][500:1200] = 0.0
    for y in faulty:
        _, y64, mag, peak = checked_samples(Snapshot(0.0, FS, y))
        smp = Samples(y64, mag, peak)
        prev = fingerprint(x)
        assert check_sensor(y64, prev, current=fingerprint(y64, smp), samples=smp) == check_sensor(y64, prev)


@pytest.mark.parametrize("samples", [np.array([1.0, np.nan] * 200), np.array([1.0, np.inf] * 200),
                                     np.array([1.0, -np.inf, np.nan] * 100), np.arange(300), np.ones(10),
                                     np.array([2e5] * 300), np.array([3.0] * 300, dtype=np.float32),
                                     np.array(["a"] * 300)])
def test_the_problems_of_a_snapshot_are_named_as_before(samples: np.ndarray) -> None:
    s = Snapshot(0.0, FS, samples)
    assert snapshot_problem(s) == _old_snapshot_problem(s)
    assert checked_samples(s)[0] == _old_snapshot_problem(s)


# ---------------------------------------------------------------- spectra: transforms, grid memos

def test_pocketfft_called_directly_is_scipy_fft() -> None:
    rng = np.random.default_rng(6)
    for n in (80, 641, 2560):
        x = rng.normal(size=n)
        assert np.array_equal(rfft(x), sfft.rfft(x))
        z = sfft.rfft(x)
        for m in (None, 3 * n, z.size, z.size // 2):
            assert np.array_equal(ifft(z[1:] if m is None else z, n=m), sfft.ifft(z[1:] if m is None else z, n=m))
        block = z[1:1 + 4 * (z.size // 5)].reshape(4, -1)
        assert np.array_equal(ifft(block, axis=1), sfft.ifft(block, axis=1))
        into = np.zeros(block.size + 3, dtype=np.complex128)
        assert np.array_equal(ifft(block, axis=1, out=into[2:2 + block.size].reshape(block.shape)),
                              sfft.ifft(block, axis=1))
        assert np.array_equal(into[2:2 + block.size], sfft.ifft(block, axis=1).ravel()) and into[0] == into[-1] == 0
        assert np.array_equal(rfft(block.real, axis=1), sfft.rfft(block.real, axis=1))


class _ChangedSignature:
    """A pocketfft module of a scipy whose private call changed: other arguments, or other numbers."""

    def __init__(self, how: str) -> None:
        self.how = how

    def r2c(self, x, axes, forward, norm, out, workers):  # noqa: ANN001 - mirrors the private call
        if self.how == "raises":
            raise TypeError("r2c() takes 5 positional arguments but 6 were given")
        return sfft.rfft(x) * 2

    def c2c(self, x, axes, forward, norm, out, workers):  # noqa: ANN001
        return sfft.ifft(x)


@pytest.mark.parametrize("how", ["raises", "differs"])
def test_a_scipy_whose_private_pocketfft_changed_falls_back_to_scipy_fft(monkeypatch, how) -> None:
    import detectors.spectrum as spectrum

    assert spectrum._direct_works()  # this scipy: the direct calls give scipy.fft's numbers
    monkeypatch.setattr(spectrum, "_pocketfft", _ChangedSignature(how))
    assert not spectrum._direct_works()

def test_bands_velocity_and_orders_read_through_the_grid_memo_are_main_s() -> None:
    rng = np.random.default_rng(7)
    for i, x in enumerate(_signals(30, 8)):
        sp = Spectrum.of(x, FS)
        speed = RPM / 60 * rng.uniform(0.8, 1.2) if i % 3 else RPM / 60
        for orders in ((1, 2, 3), _ORDERS, (0.5, 200.0, 1e6)):
            assert np.array_equal(sp.order_amplitudes_mm_s(speed, orders), _old_order_amplitudes(sp, speed, orders))
        for lo, hi in ((10.0, 1000.0), (2.0, 1000.0), (10.0, 1000.0), (5000.0, 5000.0)):
            assert sp.velocity_rms_mm_s(lo, hi) == _old_velocity(sp, lo, hi)
        edges = [10.0, 200.0, 1000.0, 3000.0, 6000.0, 12000.0, 12800.0]
        assert sp.bands_rms_g(edges) == _old_bands(sp, edges)
        f = _ORDERS_ARR * speed
        assert np.array_equal(_backgrounds_mm_s(sp, f, speed), _old_backgrounds(sp, f, speed))


def test_the_envelope_reads_the_snapshot_s_transform_from_its_spectrum() -> None:
    for i, x in enumerate(_signals(12, 9)):
        sp = Spectrum.of(x, FS)
        for kw in ({"max_level": 2, "min_bw_hz": 600.0}, {"band": (3200.0, 6400.0)}, {"min_bw_hz": 600.0, "segment_s": 0.05}):
            a, b = squared_envelope_spectrum(x, FS, spectrum=sp, **kw), squared_envelope_spectrum(x, FS, **kw)
            assert np.array_equal(a.amp, b.amp) and a.band_hz == b.band_hz
            assert a.kurtosis == b.kurtosis or (math.isnan(a.kurtosis) and math.isnan(b.kurtosis))


# ---------------------------------------------------------------- shaft rules, monitor helpers

def test_the_shaft_pattern_is_main_s_on_random_order_spectra() -> None:
    rng = np.random.default_rng(10)
    for i, x in enumerate(_signals(30, 11)):
        sp = Spectrum.of(x, FS)
        speed = RPM / 60 * (1.0 if i % 2 else rng.uniform(0.9, 1.1))
        healthy = None if i % 3 == 0 else {"1x": rng.uniform(0, 0.5), "2x": rng.uniform(0, 0.3), "3x": 0.01}
        got = shaft_pattern(sp, speed, healthy)
        amps = _old_order_amplitudes(sp, speed, _ORDERS)
        bg = _old_backgrounds(sp, _ORDERS_ARR * speed, speed)
        snrs = (20 * np.log10(np.maximum(amps, 1e-12) / np.maximum(bg, 1e-12))).tolist()
        orders = [e for e in got[2] if e["family"] == "shaft"]
        assert [e["snr_db"] for e in orders] == [round(v, 1) for v in snrs]
        assert [e["amplitude_mm_s"] for e in orders] == [round(v, 4) for v in amps.tolist()]


def test_the_monitor_s_medians_watched_features_and_band_names_are_main_s() -> None:
    rng = np.random.default_rng(12)
    for n in range(1, 12):
        vals = rng.normal(size=n).tolist()
        assert _median(vals) == statistics.median(vals)
    m = MachineInfo(rated_rpm=RPM, bearing=GEO)
    for x in _signals(5, 13):
        feats = snapshot_features(snap(0.0, x), m)
        assert list(_watched(feats).items()) == list(_old_watched(feats).items())
        z = {k: rng.normal() for k in feats}
        old = sorted((k for k in z if k.startswith("band_")), key=lambda k: float(k.split("_")[1]))
        assert _hf_keys(z) == [k for k in old if float(k.split("_")[1]) >= 1000]


def test_the_baselines_are_main_s() -> None:
    rng = np.random.default_rng(14)
    for warmup in (5, 8, 30, 31):
        det, mv = RobustZScore(warmup=warmup, min_scale=0.0), Mahalanobis(warmup=max(warmup, 8))
        rows = [{"a": float(rng.normal()), "b": float(rng.normal() * 3), "c": float(rng.integers(0, 3))}
                for _ in range(max(warmup, 8))]
        for r in rows:
            det.learn_one(r)
            mv.learn_one(r)
        for k, (med, mad) in det.baseline.items():
            arr = np.asarray([r[k] for r in rows[:warmup]])
            ref_med = float(np.median(arr))
            assert (med, mad) == (ref_med, max(float(np.median(np.abs(arr - ref_med))) * 1.4826, 1e-12))
        for r in rows[:5] + [{"a": 1.0}, {"a": math.nan, "b": 2.0, "c": 1.0}]:
            v = np.array([as_number(r.get(k, mm)) for k, mm in zip(mv.keys, mv.mean)])
            v = np.where(np.isfinite(v), v, mv.mean) - mv.mean
            assert mv.t2(r) == float(v @ mv.inv_cov @ v)
    for a in (rng.normal(size=(3, 20)), rng.normal(size=(2, 7)), rng.normal(size=(1, 640))):
        assert np.array_equal(row_medians(a), np.median(a, axis=1))
        assert median(a[0]) == float(np.median(a[0]))


def test_a_monitor_restored_midway_continues_as_one_that_was_not() -> None:
    m = MachineInfo(rated_rpm=RPM, bearing=GEO)
    rng = np.random.default_rng(15)
    xs = [machine_signal(rng, defect=0.6 * (i / 80) ** 2) for i in range(80)]
    a, b = UnitMonitor(m), UnitMonitor(m)
    for i, x in enumerate(xs):
        if i == 50:
            b = UnitMonitor.from_state(json.loads(json.dumps(b.state_dict())), m)
        ra, rb = a.update_snapshot(snap(i * 600.0, x)), b.update_snapshot(snap(i * 600.0, x))
        assert ra.to_dict() == rb.to_dict()
    assert a.state_dict() == b.state_dict()


def _old_background_at(ses, f: np.ndarray) -> np.ndarray:
    n = ses.amp.size - 1
    block = max(16, n // 64)
    nb = max(n // block, 1)
    up_to, df = float(np.max(f, initial=0.0)), ses.df
    need = min(nb, max(math.ceil((up_to / df - 1 - block // 2) / block), 0) + 1) if n >= block and df > 0 else nb
    body = ses.amp[1: 1 + need * block].reshape(need, -1) if n >= block else ses.amp[1:].reshape(1, -1)
    medians = np.median(body, axis=1)
    centres = ses.freqs[1 + np.arange(medians.size) * body.shape[1] + body.shape[1] // 2]
    return np.maximum(np.interp(f, centres, medians), max(1e-12 * float(ses.amp.max(initial=1e-30)), 1e-30))


def test_the_envelope_floor_with_its_block_centres_per_grid_is_main_s() -> None:
    rng = np.random.default_rng(16)
    for i, x in enumerate(_signals(16, 17)):
        for kw in ({"band": (3200.0, 6400.0)}, {"max_level": 3, "min_bw_hz": 600.0}, {"segment_s": 0.05}):
            f = np.sort(rng.uniform(5.0, rng.choice([200.0, 900.0, 5000.0]), int(rng.integers(1, 12))))
            ses = squared_envelope_spectrum(x, FS, **kw)
            assert np.array_equal(ses.background_at(f), _old_background_at(ses, f))



def _errors_of_threads(work, count: int = 4) -> list[str]:
    """What ``work(i)`` raised in ``count`` threads run at once, switching as often as possible."""
    import sys
    import threading

    errors: list[str] = []

    def run(i: int) -> None:
        try:
            work(i)
        except Exception as exc:  # noqa: BLE001 - returned to the test
            errors.append(repr(exc))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    return errors


def test_grid_memos_shared_by_threads_never_fail() -> None:
    """The service's ingest workers and its API thread read spectra at once: with more grids than
    the memo keeps, two threads evicting the same oldest grid raised KeyError (seen: 3 of 4 threads
    on the unlocked code)."""
    import detectors.spectrum as spectrum

    grids = []
    for n in range(40, 120):  # 80 grids: more than the 32 kept, so they are evicted all the time
        f = np.arange(n, dtype=float)
        f.setflags(write=False)
        grids.append(f)

    def hammer(i: int) -> None:
        for _ in range(300):
            for g in grids[i % 2::2] + grids:
                memo = spectrum._grid_memo(g)
                memo[("k", len(memo))] = 1

    assert _errors_of_threads(hammer) == []
    assert len(spectrum._GRID_MEMOS) <= 32


def test_the_design_cache_shared_by_threads_never_fails() -> None:
    """Ingest workers fit trends at once: with more designs than the cache keeps, two threads evicting
    the same oldest one raised KeyError on the unlocked code."""
    times = [np.arange(n, dtype=float) for n in range(4, 84)]  # 80 designs: more than the 64 kept

    def hammer(_: int) -> None:
        for _ in range(40):
            for tt in times:
                prognosis._design(tt, np.ones_like(tt))

    assert _errors_of_threads(hammer) == []
    assert len(prognosis._DESIGNS) <= prognosis._DESIGNS_MAX
