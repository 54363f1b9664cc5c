"""Two diagnosis methods not measured before on CWRU: Teager-Kaiser demodulation and impact intervals (a measurement).

Seventh CWRU session (2026-11-23). Every arm uses the adopted loop of ``foreshock evaluate`` (3 s
snapshots, at most 4 per record, vote; ties to the name seen first; a snapshot with no bearing
fault falls back to the shaft-fault rule as :func:`detectors.diagnose` does) and the adopted
speed (:func:`detectors.spectrum.refine_speed_hz`) and band (the infogram of
:func:`detectors.envelope.squared_envelope_spectrum`, levels 1-4 above the defect lines).

Arms:

- ``adopted``: :func:`detectors.diagnosis._diagnose_at`, i.e. ``diagnose``.
- ``ses_replica``: this script's own squared envelope spectrum (the band's analytic signal, |z|^2,
  the same Welch segments) read by the adopted scoring; it must name every record as ``adopted``
  (a check of the harness).
- ``tkeo_band``: the Teager-Kaiser energy operator psi(n) = x(n)^2 - x(n-1) x(n+1) of the band-passed
  (real) signal in place of |z|^2; the same spectrum, lines, background and 4 dB rule.
- ``tkeo_raw``: the same operator on the raw signal (no band).
- ``intervals``: impacts found in the band's envelope |z| (local maxima above median + kappa MAD, a
  dead time of 0.4 of the shortest defect period) and the families judged by their pairwise
  intervals. A family's *lattice score* is the mean over k = 1, 2, 3 of the excess, in dB (below 0
  counts 0), of the number of intervals within w_k of k/f_defect over the median number at eight
  decoy lags (k/f_defect times 0.80-0.89 and 1.11-1.20, windows scaled alike); w_k =
  2 sqrt((0.01 k T)^2 + k (0.01 T)^2) + 1/fs (1 % speed tolerance plus 1 % slip per interval, as
  the simulator's impact trains). The *gap* evidence of a modulation period P (shaft for the
  inner race, cage for the ball) is the excess of intervals within 0.1 P of P over those at 0.5 P
  and 1.5 P: impacts that come in load-zone bursts. Family scores: outer = lattice(BPFO); inner =
  lattice(BPFI) + 0.5 gap(shaft); ball = max(max(lattice(BSF), lattice(2 BSF)) + 0.5 gap(cage),
  gap(cage)). A lattice whose rate lies within 3 % of shaft speed of a shaft harmonic counts 0
  (ambiguous, as the adopted rule; on the 6203 both ball lattices). The best family is named when
  its score clears ``theta``.
- ``combined``: the adopted rule, except that when it names a family and the runner-up family's
  spectral score is within ``margin`` dB of it, the one of the two with the larger interval score
  is named.

kappa, theta and margin are set by ``--calibrate`` on white and pink noise and on simulated
snapshots only (the simulator of ``bench/cwru_simclass.py``, its ranges as set in the fifth
session), never on CWRU: kappa and margin maximise the simulated accuracy, theta is the 99th
percentile of the best interval score over the noise and simulated healthy snapshots. The values
found are written into CALIBRATED below before the first CWRU run.

Reported per arm: right / 58 fault records (inner / outer / ball) and what the healthy record is
named, on snapshots cut 0, 0.75 and 1.5 s later (a record too short for the cut: its last 3 s),
on the 48 kHz drive end and the healthy record decimated to 12 kHz (``scipy.signal.decimate``, FIR,
q = 4), and the cost per 3 s 12 kHz snapshot against ``diagnose``.

    .venv/bin/python bench/cwru_seventh.py --calibrate [--n 1200]          # about 3 min on 2 cores
    .venv/bin/python bench/cwru_seventh.py [--data ../shared/datasets/cwru] [--json FILE]   # about 2 min
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from functools import partial
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import scipy.fft as sfft
import scipy.signal as ssig
from scipy.signal import fftconvolve

import simulator.waveform as wf
from bench.cwru_simclass import CATALOGUE, _ring
from detectors.diagnosis import FAMILY_MODE, _diagnose_at, _read_families, envelope_segment_s
from detectors.envelope import SES, _kurtosis, _select
from detectors.shaft import shaft_fault
from detectors.spectrum import Spectrum, refine_speed_hz, rfft_freqs
from detectors.types import BearingGeometry, MachineInfo, Snapshot
from evaluation.runs import machine_of
from foreshock.datasets import read

MODES = ("outer_race", "inner_race", "ball")
SNAPSHOT_S, MAX_SNAPSHOTS = 3.0, 4
MIN_SCORE = 4.0  # the adopted rule's threshold, dB
KAPPAS = (2.0, 3.0, 4.0, 6.0)
MARGINS = (0.5, 1.0, 2.0, 3.0, 4.0)
DECOYS = (0.80, 0.83, 0.86, 0.89, 1.11, 1.14, 1.17, 1.20)
# set by --calibrate (simulation and noise only), before the first CWRU run
CALIBRATED = {"kappa": 3.0, "theta": 7.035, "margin": 2.0}  # bench/results/cwru_seventh_calibration.json


# ---------------------------------------------------------------------------------------------
# the methods


def welch_amp(sig: np.ndarray, fs: float, seg: int) -> np.ndarray:
    """Amplitude spectrum of ``sig`` as :func:`detectors.envelope.squared_envelope_spectrum` takes it
    from |z|^2: Hann segments of ``seg`` samples overlapping by half, each less its mean."""
    n = sig.size
    w = np.hanning(seg)
    if seg >= n:
        w = np.hanning(n)
        return np.abs(sfft.rfft((sig - sig.mean()) * w)) * (2.0 / w.sum())
    frames = np.lib.stride_tricks.sliding_window_view(sig, seg)[::max(seg // 2, 1)]
    frames = (frames - frames.mean(axis=1, keepdims=True)) * w
    return np.abs(sfft.rfft(frames, axis=1)).mean(axis=0) * (2.0 / w.sum())


def tkeo(x: np.ndarray) -> np.ndarray:
    """psi(n) = x(n)^2 - x(n-1) x(n+1), the ends repeated (same length as ``x``)."""
    psi = x[1:-1] ** 2 - x[:-2] * x[2:]
    return np.concatenate([psi[:1], psi, psi[-1:]])


class Context:
    """What every arm of one snapshot shares: speed, band, the band's analytic signal."""

    def __init__(self, x: np.ndarray, fs: float, stated_hz: float, machine: MachineInfo) -> None:
        self.x, self.fs, self.machine = x, fs, machine
        self.sp = Spectrum.of(x, fs)
        self.fr, _ = refine_speed_hz(x, fs, stated_hz, self.sp)
        self.mult = machine.bearing.multipliers()
        top_f = 3.5 * max(self.mult["bpfi"], 2 * self.mult["bsf"]) * self.fr
        n = x.size
        spec = sfft.rfft(x - x.mean())
        lo, hi, self.sk = _select(spec, fs, n, 4, top_f)
        self.band = (lo, hi)
        k0, k1 = max(math.ceil(lo * n / fs - 1e-9), 1), min(math.ceil(hi * n / fs - 1e-9), spec.size)
        full = np.zeros(n, dtype=np.complex128)
        full[k0:k1] = spec[k0:k1]
        self.z = sfft.ifft(full) * 2.0
        self.seg = min(n, max(round(envelope_segment_s(self.mult, self.fr, n / fs) * fs), 256))

    def scores_of(self, sig: np.ndarray) -> dict[str, float]:
        """The adopted family scores read in the spectrum of ``sig`` (an envelope-like signal)."""
        amp = welch_amp(sig, self.fs, self.seg)
        ses = SES(freqs=rfft_freqs(min(self.seg, sig.size), self.fs), amp=amp, band_hz=self.band, kurtosis=self.sk)
        read_ = _read_families(ses, self.fr, self.mult, 0.01, 0.5, 1.0, False)
        return read_[0] if read_ else {}


def lags_of(t: np.ndarray, max_lag: float) -> np.ndarray:
    """Every pairwise interval t[j] - t[i] (j > i) up to ``max_lag``, sorted."""
    out = []
    for m in range(1, t.size):
        d = t[m:] - t[:-m]
        d = d[d <= max_lag]
        if d.size == 0:
            break
        out.append(d)
    return np.sort(np.concatenate(out)) if out else np.zeros(0)


def impacts(env: np.ndarray, fs: float, dead_s: float, kappa: float) -> np.ndarray:
    """Impact times (s): local maxima of ``env`` above median + kappa MAD (x1.4826), ``dead_s`` apart,
    located between samples by a parabola through the peak and its neighbours."""
    med = float(np.median(env))
    mad = 1.4826 * float(np.median(np.abs(env - med)))
    pk, _ = ssig.find_peaks(env, height=med + kappa * mad, distance=max(int(dead_s * fs), 1))
    pk = pk[(pk > 0) & (pk < env.size - 1)]
    a, b, c = env[pk - 1], env[pk], env[pk + 1]
    den = a - 2 * b + c
    off = np.where(den < 0, 0.5 * (a - c) / np.where(den < 0, den, -1.0), 0.0)
    return (pk + np.clip(off, -0.5, 0.5)) / fs


def interval_scores(ctx: Context, kappa: float) -> dict[str, float]:
    """Family scores from the intervals between impacts in the band's envelope (module docstring)."""
    fr, m, fs = ctx.fr, ctx.mult, ctx.fs
    env = np.abs(ctx.z)
    dead = 0.4 / (max(m["bpfi"], 2 * m["bsf"], m["bpfo"]) * fr)
    t = impacts(env, fs, dead, kappa)
    p_cage = 1 / (m["ftf"] * fr)
    max_lag = max(1.6 * p_cage, 1.6 / fr, 3 * 1.25 / (m["bsf"] * fr))
    lags = lags_of(t, max_lag)

    def count(centre: float, half: float) -> int:
        return int(np.searchsorted(lags, centre + half, "right") - np.searchsorted(lags, centre - half, "left"))

    def lattice(rate_hz: float) -> float:
        order = rate_hz / fr
        if abs(order - round(order)) < 0.03:  # on a shaft harmonic: shaft modulation explains it as well
            return 0.0
        period = 1 / rate_hz
        ex = []
        for k in (1, 2, 3):
            w = 2 * math.sqrt((0.01 * k * period) ** 2 + k * (0.01 * period) ** 2) + 1 / fs
            c = count(k * period, w)
            d = float(np.median([count(s * k * period, s * w) for s in DECOYS]))
            ex.append(max(10 * math.log10((c + 1) / (d + 1)), 0.0))
        return float(np.mean(ex))

    def gap(period: float) -> float:
        h = 0.1 * period
        c = count(period, h)
        d = 0.5 * (count(0.5 * period, h) + count(1.5 * period, h))
        return max(10 * math.log10((c + 1) / (d + 1)), 0.0)

    g_shaft, g_cage = gap(1 / fr), gap(p_cage)
    ball_lat = max(lattice(m["bsf"] * fr), lattice(2 * m["bsf"] * fr))
    return {"bpfo": lattice(m["bpfo"] * fr), "bpfi": lattice(m["bpfi"] * fr) + 0.5 * g_shaft,
            "bsf": max(ball_lat + 0.5 * g_cage, g_cage), "impacts": int(t.size)}


def snapshot_scores(x: np.ndarray, fs: float, stated_hz: float, machine: MachineInfo,
                    kappas: tuple[float, ...]) -> dict:
    """Every arm's family scores (and the adopted name) for one snapshot."""
    ctx = Context(x, fs, stated_hz, machine)
    mode, _, _ = _diagnose_at(x, fs, ctx.sp, ctx.fr, machine, MIN_SCORE, 0.01, 0.5)
    shaft_mode, _, _ = shaft_fault(ctx.sp, ctx.fr, machine)
    xb = ctx.z.real
    out = {"adopted_name": mode or "none", "shaft_mode": shaft_mode, "shaft_hz": round(ctx.fr, 4),
           "band_hz": [round(b, 1) for b in ctx.band],
           "ses_replica": ctx.scores_of(ctx.z.real ** 2 + ctx.z.imag ** 2),
           "tkeo_band": ctx.scores_of(tkeo(xb)),
           "tkeo_raw": ctx.scores_of(tkeo(x - x.mean()))}
    for k in kappas:
        out[f"intervals@{k:g}"] = interval_scores(ctx, k)
    return out


# ---------------------------------------------------------------------------------------------
# naming


def best_of(scores: dict[str, float], threshold: float) -> str | None:
    fam = {k: v for k, v in scores.items() if k in FAMILY_MODE}
    if not fam:
        return None
    b = max(fam, key=fam.__getitem__)
    return FAMILY_MODE[b] if fam[b] >= threshold and fam[b] > 0 else None


def combined(spec: dict[str, float], inter: dict[str, float], margin: float) -> str | None:
    """The adopted rule; when it names a family and the runner-up is within ``margin`` dB, the one of
    the two with the larger interval score."""
    ranked = sorted(spec, key=spec.__getitem__, reverse=True)
    if not ranked or spec[ranked[0]] < MIN_SCORE:
        return None
    if len(ranked) > 1 and spec[ranked[0]] - spec[ranked[1]] < margin and inter[ranked[1]] > inter[ranked[0]]:
        return FAMILY_MODE[ranked[1]]
    return FAMILY_MODE[ranked[0]]


def snapshot_name(s: dict, arm: str, cal: dict) -> str:
    if arm == "adopted":
        return s["adopted_name"]
    if arm in ("ses_replica", "tkeo_band", "tkeo_raw"):
        n = best_of(s[arm], MIN_SCORE)
    elif arm == "intervals":
        n = best_of(s[f"intervals@{cal['kappa']:g}"], cal["theta"])
    elif arm == "combined":
        n = combined(s["ses_replica"], s[f"intervals@{cal['kappa']:g}"], cal["margin"])
    else:
        raise ValueError(f"unknown arm {arm!r}")
    return n or s["shaft_mode"] or "none"


def vote(names: list[str]) -> str:
    return Counter(names).most_common(1)[0][0]  # ties: the name seen first, as evaluation.records


ARMS = ("adopted", "ses_replica", "tkeo_band", "tkeo_raw", "intervals", "combined")


# ---------------------------------------------------------------------------------------------
# simulation and noise: the calibration


def sim_signal(seed: int) -> tuple[str, np.ndarray, float, float, MachineInfo]:
    """One simulated 3 s snapshot (class = seed mod 4): the generator of ``bench/cwru_simclass.py``
    (same ranges, same draws), returning the signal."""
    rng = np.random.default_rng(seed)
    kind = ("none", "outer_race", "inner_race", "ball")[seed % 4]
    fs = float(rng.choice([12000.0, 25600.0, 48000.0]))
    n = int(3 * fs)
    bearing = CATALOGUE[rng.integers(len(CATALOGUE))]
    mult = bearing.multipliers()
    fr = rng.uniform(20, 60)
    stated = fr * (1 + rng.normal(0, 0.003))
    t = np.arange(n) / fs
    rings = [rng.uniform(0.3, 1) * _ring(fs, rng.uniform(0.08, 0.42) * fs, rng.uniform(0.02, 0.12))
             for _ in range(rng.integers(1, 4))]
    path = np.zeros(max(r.size for r in rings))
    for r in rings:
        path[:r.size] += r
    white = rng.standard_normal(n)
    spec = np.fft.rfft(rng.standard_normal(n))
    k = np.arange(spec.size)
    k[0] = 1
    noise = white + rng.uniform(0, 2) * np.fft.irfft(spec / np.sqrt(k), n) * math.sqrt(spec.size) / 10
    noise *= 1 + rng.uniform(0, 0.3) * np.cos(2 * np.pi * fr * t + rng.uniform(0, 6.3))
    x = noise / noise.std()
    n_h = int(rng.integers(3, 60))
    amps = rng.lognormal(-1.5, 1.0, n_h) * rng.uniform(0, 1)
    for h in range(1, n_h + 1):
        if h * fr < fs / 2.2:
            x += amps[h - 1] * np.sin(2 * np.pi * h * fr * t + rng.uniform(0, 6.3))
    if kind != "none":
        rate = mult[{"outer_race": "bpfo", "inner_race": "bpfi", "ball": "bsf"}[kind]] * fr
        if kind == "ball" and rng.random() < 0.5:
            rate *= 2
        slip, wf.SLIP = wf.SLIP, rng.uniform(0.003, 0.02)
        try:
            times = wf.impact_times(rate, n / fs, rng)
        finally:
            wf.SLIP = slip
        a = np.ones(times.size)
        mod_hz, lo, hi = {"inner_race": (fr, 0.2, 1.0), "ball": (mult["ftf"] * fr, 0.2, 1.0),
                          "outer_race": (fr, 0.0, 0.3)}[kind]
        d = rng.uniform(lo, hi)
        a *= 1 - d + d * 0.5 * (1 + np.cos(2 * np.pi * mod_hz * times + rng.uniform(0, 6.3)))
        a *= 1 + rng.uniform(0, 0.5) * rng.standard_normal(times.size)
        train = np.zeros(n)
        idx = np.round(times * fs).astype(int)
        ok = (idx >= 0) & (idx < n)
        np.add.at(train, idx[ok], a[ok])
        imp = fftconvolve(train, path)[:n]
        x += 10 ** rng.uniform(-1.6, 0.3) * imp / max(float(imp.std()), 1e-12)
    geo = BearingGeometry(bearing.n_balls, bearing.ball_d, bearing.pitch_d)
    return kind, x, fs, stated, MachineInfo(rated_rpm=stated * 60, bearing=geo)


def sim_job(seed: int) -> dict:
    kind, x, fs, stated, machine = sim_signal(seed)
    return {"kind": kind, **snapshot_scores(x, fs, stated, machine, KAPPAS)}


def noise_job(args: tuple[str, float, str, float, int]) -> dict:
    """White or pink noise, 3 s, at a CWRU rate, bearing and speed."""
    colour, fs, bearing, rpm, seed = args
    geo = {"6203": BearingGeometry(8, 0.2656, 1.122), "6205": BearingGeometry(9, 0.3126, 1.537)}[bearing]
    rng = np.random.default_rng(seed)
    n = int(SNAPSHOT_S * fs)
    x = rng.standard_normal(n)
    if colour == "pink":
        spec = np.fft.rfft(x)
        k = np.arange(spec.size, dtype=float)
        k[0] = 1
        x = np.fft.irfft(spec / np.sqrt(k), n)
    return {"kind": "none", "colour": colour, **snapshot_scores(x, fs, rpm / 60, MachineInfo(rated_rpm=rpm, bearing=geo),
                                                                 KAPPAS)}


def calibrate(pool: Pool, n_sim: int) -> dict:
    sims = pool.map(sim_job, range(n_sim), chunksize=10)
    jobs = [(c, fs, b, rpm, s) for c in ("white", "pink") for fs in (12000.0, 48000.0) for b in ("6203", "6205")
            for rpm in (1730.0, 1797.0) for s in range(10)]
    noise = pool.map(noise_job, jobs, chunksize=4)
    healthy = [s for s in sims if s["kind"] == "none"] + noise
    out: dict = {"simulated": len(sims), "noise": len(noise), "per_kappa": {}}
    def bearing_name(s: dict, arm: str) -> str:  # a shaft fault counts as no bearing fault here
        n = snapshot_name(s, arm, {})
        return n if n in MODES else "none"

    for arm in ("adopted", "ses_replica", "tkeo_band", "tkeo_raw"):
        acc = np.mean([bearing_name(s, arm) == s["kind"] for s in sims])
        noise_named = sum(bearing_name(s, arm) != "none" for s in noise)
        out[arm] = {"simulated_accuracy": round(float(acc), 3), "noise_named": noise_named}
    best = None
    for k in KAPPAS:
        key = f"intervals@{k:g}"
        best_scores = [max(v for f, v in s[key].items() if f in FAMILY_MODE) for s in healthy]
        theta = float(np.percentile(best_scores, 99))
        acc = float(np.mean([(best_of(s[key], theta) or "none") == s["kind"] for s in sims]))
        out["per_kappa"][f"{k:g}"] = {"theta": round(theta, 3), "simulated_accuracy": round(acc, 3),
                                      "mean_impacts": round(float(np.mean([s[key]["impacts"] for s in sims])), 1)}
        if best is None or acc > best[2]:
            best = (k, theta, acc)
    kappa, theta, _ = best
    per_margin = {}
    for mg in MARGINS:
        per_margin[f"{mg:g}"] = round(float(np.mean([(combined(s["ses_replica"], s[f"intervals@{kappa:g}"], mg) or "none")
                                                     == s["kind"] for s in sims])), 3)
    margin = float(max(MARGINS, key=lambda mg: per_margin[f"{mg:g}"]))
    out["combined_per_margin"] = per_margin
    out["chosen"] = {"kappa": kappa, "theta": round(theta, 3), "margin": margin}
    return out


# ---------------------------------------------------------------------------------------------
# CWRU


def snapshots(x: np.ndarray, fs: float, offset_s: float) -> list[np.ndarray]:
    n = int(SNAPSHOT_S * fs)
    y = x[int(offset_s * fs):]
    if len(y) < min(n, len(x)):  # too short for the cut: its last snapshot's worth
        y = x[-min(n, len(x)):]
    starts = list(range(0, max(len(y) - n + 1, 1), n))[:MAX_SNAPSHOTS]
    return [np.asarray(y[i:i + n], dtype=np.float64) for i in starts]


def record_job(args: tuple[str, str]) -> dict:
    path, cut = args
    rec = read(path)
    machine = machine_of(rec.meta, rec.rpm)
    x, fs = np.asarray(rec.x, dtype=np.float64), float(rec.fs)
    offset = 0.0
    if cut == "dec12k":
        x, fs = ssig.decimate(x, 4, ftype="fir"), fs / 4
    else:
        offset = float(cut)
    snaps = [snapshot_scores(s, fs, rec.rpm / 60, machine, (CALIBRATED["kappa"],)) for s in snapshots(x, fs, offset)]
    return {"name": rec.name, "true_fault": rec.fault, "snapshots": snaps}


def count(records: list[dict], arm: str) -> dict:
    faults = [r for r in records if r["true_fault"] != "none"]
    per = {k: sum(r[arm] == r["true_fault"] for r in faults if r["true_fault"] == k) for k in MODES}
    return {"right": sum(per.values()), "of": len(faults), "inner_race": per["inner_race"],
            "outer_race": per["outer_race"], "ball": per["ball"],
            "healthy_named": [r[arm] for r in records if r["true_fault"] == "none"]}


def cost_ms(path: str) -> dict:
    """Median ms per 3 s 12 kHz snapshot: diagnose, and each method in full (speed, band, its own step)."""
    rec = read(path)
    machine = machine_of(rec.meta, rec.rpm)
    x = np.asarray(rec.x[:int(3 * rec.fs)], dtype=np.float64)
    fs, st = float(rec.fs), rec.rpm / 60

    def t_of(f, reps: int = 15) -> float:
        f()
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t0)
        return round(float(np.median(ts)) * 1000, 2)

    def diag() -> None:
        from detectors.diagnosis import diagnose
        diagnose(Snapshot(0.0, fs, x, rpm=rec.rpm), machine)

    def context() -> Context:
        return Context(x, fs, st, machine)

    def tk_band() -> None:
        c = Context(x, fs, st, machine)
        c.scores_of(tkeo(c.z.real))

    def tk_raw() -> None:
        c = Context(x, fs, st, machine)
        c.scores_of(tkeo(x - x.mean()))

    def inter() -> None:
        interval_scores(Context(x, fs, st, machine), CALIBRATED["kappa"])

    return {"record": rec.name, "diagnose": t_of(diag), "context (speed, band, analytic signal)": t_of(context),
            "tkeo_band": t_of(tk_band), "tkeo_raw": t_of(tk_raw), "intervals": t_of(inter)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cwru"))
    ap.add_argument("--calibrate", action="store_true", help="set kappa, theta, margin on noise and simulation")
    ap.add_argument("--n", type=int, default=1200, help="simulated snapshots for --calibrate")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    t0 = time.time()
    out: dict = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
                 "command": ".venv/bin/python bench/cwru_seventh.py" + (" --calibrate" if args.calibrate else "")
                 + (f" --json {args.json}" if args.json else "")}
    with Pool(2) as pool:
        if args.calibrate:
            cal = calibrate(pool, args.n)
            out["calibration"] = cal
            print(json.dumps(cal, indent=1))
        else:
            if CALIBRATED["kappa"] is None:
                sys.exit("run --calibrate first and write its choice into CALIBRATED")
            paths = sorted(str(p) for p in Path(args.data).glob("*.npz"))
            if not paths:
                sys.exit(f"no CWRU records (*.npz) in {args.data}")
            out["calibrated"] = CALIBRATED
            out["cuts"] = {}
            drive = [p for p in paths if "48k" in Path(p).name or Path(p).name.startswith("normal")]
            for cut in ("0", "0.75", "1.5", "dec12k"):
                recs = pool.map(record_job, [(p, cut) for p in (drive if cut == "dec12k" else paths)])
                for r in recs:
                    for arm in ARMS:
                        r[arm] = vote([snapshot_name(s, arm, CALIBRATED) for s in r["snapshots"]])
                summary = {arm: count(recs, arm) for arm in ARMS}
                out["cuts"][cut] = {"summary": summary, "records": recs}
                label = "drive end decimated to 12 kHz" if cut == "dec12k" else f"snapshots cut {cut} s later"
                print(f"\n{label}:")
                for arm, s in summary.items():
                    print(f"  {arm:12s} {s['right']:2d} / {s['of']} (inner {s['inner_race']}, outer {s['outer_race']}, "
                          f"ball {s['ball']}); healthy record named {s['healthy_named']}")
                print("  records named differently from the adopted method:")
                for r in recs:
                    diff = {a: r[a] for a in ARMS if r[a] != r["adopted"]}
                    if diff:
                        print(f"    {r['name']:32s} true {r['true_fault']:11s} adopted {r['adopted']:11s} "
                              + " ".join(f"{a}={v}" for a, v in diff.items()))
    if not args.calibrate:
        fan = next(p for p in paths if "12k_Fan_End_OR007at6_0" in p)
        out["cost_ms_per_3s_12k_snapshot"] = cost_ms(fan)
        print(f"\ncost per 3 s 12 kHz snapshot (ms, median of 15): {out['cost_ms_per_3s_12k_snapshot']}")
    out["seconds"] = round(time.time() - t0, 1)
    print(f"run took {out['seconds']} s")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
