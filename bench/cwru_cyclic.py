"""CWRU fault naming from the cyclic spectral coherence (an experiment, not a detector).

The cyclic spectral coherence gamma(alpha, f) is estimated with Antoni's Fast Spectral Correlation
(Antoni, Xin, Hamzaoui 2017, "Fast computation of the spectral correlation", MSSP 92): an STFT
(Hann window of ``Nw`` samples, hop ``R = fs / (2 alpha_max)``), whitened per carrier bin (so the
result is a coherence), the products of carrier bins ``p`` apart Fourier-transformed over the
frames for every shift ``p`` up to ``alpha_max``, each shift phase-corrected and the sum
calibrated by the window's own cyclic response (which removes the loss a plain cyclic-modulation
spectrum suffers at cyclic frequencies comparable to the carrier resolution). Written here from the
paper's description, not copied.

The enhanced envelope spectrum EES(alpha) = mean over carriers f of |gamma(alpha, f)| (Antoni's
definition) is then read by the current diagnosis's own family scoring
(:func:`detectors.diagnosis.bearing_scores`: same lines, tolerance, sidebands, cage lines,
ambiguity rule, shaft-bin masking and block-median background) in place of the squared envelope
spectrum, the best family is named when its score clears one threshold for all records, and a
record is named by vote over its 3 s snapshots as :func:`evaluation.records.evaluate_record` does.

Carrier sets (arms):

- ``full``: all carriers (the plain EES);
- ``band``: the dyadic carrier band (levels 1-4, as the current infogram) whose coherence energy,
  mean |gamma|^2 over cyclic frequencies from a quarter of shaft speed to alpha_max, is largest.
  It uses no defect frequency, only the shaft speed.

The threshold is chosen from white noise (the 99th percentile of the best family score on white
noise snapshots at both sample rates, bearings and the records' speeds), not from the records.

Also run, with the same code: the current method (``detectors.diagnose``) on the same snapshots;
the 48 kHz drive-end records (and the healthy one) decimated to 12 kHz (``scipy.signal.decimate``,
FIR, q=4); snapshots cut 0.75 s later; and the cost per 3 s snapshot at 12 kHz.

Measured (bench/results/cwru_cyclic.json, about 5 min on 2 cores): 37 of 58 fault records with all
carriers at the white-noise threshold (the current method on the same snapshots: 42), 35-38 over
every arm and threshold of 2-5 dB, and at most 38 even with no threshold (each snapshot naming its
best family): the EES ranks the families wrong on about 20 records, mostly fan-end outer-race and
ball records named inner_race. Not a candidate for adoption.

    .venv/bin/python bench/cwru_cyclic.py /work/shared/datasets/cwru [--json bench/results/cwru_cyclic.json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from functools import lru_cache
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import scipy.fft as sfft
import scipy.signal as ssig

from detectors import Snapshot, diagnose
from detectors.diagnosis import FAMILY_MODE, bearing_scores
from detectors.envelope import SES
from detectors.shaft import shaft_fault
from detectors.spectrum import Spectrum, refine_speed_hz
from detectors.types import MachineInfo
from evaluation.runs import machine_of
from foreshock.datasets import read

SNAPSHOT_S = 3.0
MAX_SNAPSHOTS = 4
CARRIER_RES_HZ = 100.0  # STFT window: the power of two nearest fs / 100 Hz (128 at 12 kHz, 512 at 48 kHz)
THRESHOLD_QUANTILE = 0.99  # of the best family score on white noise
NOISE_TRIALS = 40  # white-noise snapshots per (sample rate, bearing, speed)


# ---------------------------------------------------------------------------------------------
# Fast spectral coherence


def window_len(fs: float, carrier_res_hz: float = CARRIER_RES_HZ) -> int:
    return int(2 ** round(math.log2(fs / carrier_res_hz)))


@lru_cache(maxsize=8)
def _hann(nw: int) -> np.ndarray:
    w = np.hanning(nw + 2)[1:-1]  # no zero end points (as MATLAB's hanning)
    w.flags.writeable = False
    return w


def _window_response(w2: np.ndarray, a: np.ndarray, fs: float) -> np.ndarray:
    """The cyclic response of the STFT window: sum_m w[m]^2 cos(2 pi (m - c) a / fs), c its centre."""
    m = np.arange(w2.size) - (w2.size - 1) / 2
    return np.cos(2 * np.pi * np.outer(a, m) / fs) @ w2


@lru_cache(maxsize=16)
def _calibration(nw: int, fs: float, hop: int, nt: int, alpha_max: float) -> tuple:
    """What depends only on the STFT's layout (the same for every snapshot of a unit): the cyclic
    frequencies kept, per shift ``(p, a0, first aliased bin)``, and 1 / the summed window responses."""
    fa = fs / hop
    nfft = sfft.next_fast_len(nt)
    alpha = np.arange(nfft) / nfft * fa
    keep = int(math.ceil(nfft / 2)) + 1  # cyclic frequencies from here on are aliases
    top = int(np.searchsorted(alpha, alpha_max, side="right"))
    if top > keep:
        raise ValueError(f"alpha_max {alpha_max:g} Hz beyond the frames' Nyquist {fa / 2:g} Hz")
    a = alpha[:top]
    w2 = _hann(nw) ** 2
    n_shift = int(nw / 2 * fa / fs)
    shifts = []
    W = np.zeros(top)
    for p in range(-(n_shift - 1), n_shift):
        a0 = p * fs / nw
        cut = keep + int(round(a0 / fa * nfft))
        Wp = _window_response(w2, a - a0, fs) + _window_response(w2, a - a0 - fa, fs)
        Wp[max(cut, 0):] = 0
        if p == 0:
            W += Wp
        else:  # alpha = 0 is the shift 0's alone
            W[1:] += Wp[1:]
        shifts.append((p, a0, cut))
    if np.any(W[1:] < 0.5 * np.median(W[1:])):
        raise ValueError("window responses do not cover the cyclic frequencies up to alpha_max")
    winv = 1.0 / W
    for arr in (a, winv):
        arr.flags.writeable = False
    return nfft, a, tuple(shifts), winv


def fast_sc(x: np.ndarray, fs: float, nw: int, alpha_max: float,
            taper: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cyclic spectral coherence ``gamma[f, alpha]`` (complex), cyclic frequencies ``alpha`` in
    [0, alpha_max] (resolution about 1 / duration) and carriers ``f`` (rfft of ``nw``).
    Convention: gamma(alpha, f) correlates the carriers f + alpha and f.

    ``taper``: a Hann window over the frames before the Fourier transform over time (Antoni's
    estimator has none: a rectangular one, whose sidelobes around a strong shaft line fall off as
    1 / distance and are local maxima; Hann's fall off as 1 / distance^3, at twice the main lobe).
    Its gain is the same at every cyclic frequency, so the coherence's normalisation removes it."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean()
    if not 0 < alpha_max < fs / 2:
        raise ValueError(f"alpha_max must be in (0, fs/2 = {fs / 2:g}) Hz, got {alpha_max:g}")
    if x.size < 2 * nw:
        raise ValueError(f"need at least {2 * nw} samples for a {nw}-sample window, got {x.size}")
    # the frames' rate: Antoni's hop is fs / (2 alpha_max); here fs / (2 (alpha_max + 2 df)), df =
    # fs / nw, so that the carrier shifts (up to nw / (2 hop) - 1 of them) reach beyond alpha_max
    # and the summed window responses cover it evenly
    hop = int(max(1, min(fs // (2 * (alpha_max + 2 * fs / nw)), nw // 4)))
    w = _hann(nw)
    frames = np.lib.stride_tricks.sliding_window_view(x, nw)[::hop]
    X = sfft.rfft(frames * w, axis=1).T  # (carriers, frames)
    nf, nt = X.shape
    psd = np.mean(X.real ** 2 + X.imag ** 2, axis=1)
    X = X / np.sqrt(np.where(psd > 0, psd, 1.0))[:, None]  # whitened: a coherence
    nfft, alpha, shifts, winv = _calibration(nw, float(fs), hop, nt, float(alpha_max))
    top = alpha.size
    centre = (nw - 1) / 2
    S = np.zeros((nf, top), dtype=np.complex128)
    prod = np.empty((nf, nt), dtype=np.complex128)
    tw = np.hanning(nt + 2)[1:-1][None, :] if taper else None
    for p, a0, cut in shifts:
        prod[:] = 0
        if p >= 0:
            prod[:nf - p] = X[p:] * np.conj(X[:nf - p])
        else:
            prod[:nf + p] = np.conj(X[-p:]) * X[:nf + p]
        if tw is not None:
            prod *= tw
        Sp = sfft.fft(prod, n=nfft, axis=1)[:, :top] / nt
        Sp[:, max(cut, 0):] = 0
        Sp *= np.exp(-2j * np.pi * centre * (alpha - a0) / fs)[None, :]
        if p == 0:
            S += Sp
        else:
            S[:, 1:] += Sp[:, 1:]
    S *= winv[None, :]
    S /= np.mean(S[:, 0].real)
    return S, alpha, np.fft.rfftfreq(nw, 1.0 / fs)


def ees(gamma: np.ndarray, alpha: np.ndarray, rows: slice | None = None) -> SES:
    """The enhanced envelope spectrum, mean |gamma| over the carriers ``rows``, as an :class:`SES`
    (so the diagnosis's own line reading and background apply)."""
    g = np.abs(gamma if rows is None else gamma[rows])
    return SES(freqs=alpha, amp=g.mean(axis=0), band_hz=(0.0, 0.0), kurtosis=float("nan"))


def band_rows(gamma: np.ndarray, alpha: np.ndarray, f: np.ndarray, shaft_hz: float,
              levels: int = 4) -> tuple[slice, tuple[float, float]]:
    """The dyadic carrier band (levels 1..``levels``) with the largest mean |gamma|^2 over cyclic
    frequencies from shaft/4 to alpha_max. Uses no defect frequency."""
    a0 = int(np.searchsorted(alpha, 0.25 * shaft_hz))
    e = np.mean(np.abs(gamma[:, a0:]) ** 2, axis=1)  # per carrier
    nyq = f[-1]
    best, best_v = (slice(0, f.size), (0.0, nyq)), -np.inf
    for level in range(1, levels + 1):
        width = nyq / 2 ** level
        for b in range(2 ** level):
            lo, hi = b * width, (b + 1) * width
            idx = np.flatnonzero((f >= lo) & (f < hi))
            if idx.size < 2:
                continue
            v = float(e[idx].mean())
            if v > best_v:
                best, best_v = (slice(int(idx[0]), int(idx[-1]) + 1), (lo, hi)), v
    return best


# ---------------------------------------------------------------------------------------------
# one snapshot


def alpha_max_for(mult: dict[str, float], shaft_hz: float) -> float:
    """Cyclic frequencies read: the diagnosis reads lines up to 3.5 x max(BPFI, 2 BSF) x shaft and
    bearing_scores keeps targets below 0.9 x the spectrum's top."""
    return 3.5 * max(mult["bpfi"], 2 * mult["bsf"]) * shaft_hz / 0.9


def csc_scores(x: np.ndarray, fs: float, shaft_hz: float, mult: dict[str, float],
               carrier_res_hz: float = CARRIER_RES_HZ, arms: tuple[str, ...] = ("full", "band"),
               taper: bool = False) -> dict[str, dict[str, float]]:
    """Per arm (``full``: all carriers; ``band``: :func:`band_rows`), the family scores on the EES."""
    gamma, alpha, f = fast_sc(x, fs, window_len(fs, carrier_res_hz), alpha_max_for(mult, shaft_hz), taper)
    out = {}
    for arm in arms:
        if arm == "full":
            rows = None
        elif arm == "band":
            rows, _ = band_rows(gamma, alpha, f, shaft_hz)
        else:
            raise ValueError(f"unknown arm {arm!r} (full, band)")
        sc = bearing_scores(ees(gamma, alpha, rows), shaft_hz, mult, tol=0.01, sideband_weight=0.5, evidence=False)
        out[arm] = {k: float(v[0]) for k, v in sc.items()}
    return out


def snapshot_speed(x: np.ndarray, fs: float, rpm: float) -> tuple[float, Spectrum]:
    """The current diagnosis's speed (step 5: the stated one unless the shaft's harmonics clearly
    contradict it)."""
    sp = Spectrum.of(x, fs)
    return refine_speed_hz(x, fs, rpm / 60, sp)[0], sp


def name_from(scores: dict[str, float], threshold: float) -> str | None:
    if not scores:
        return None
    fam = max(scores, key=lambda k: scores[k])
    return FAMILY_MODE[fam] if scores[fam] >= threshold else None


# ---------------------------------------------------------------------------------------------
# records


def snapshots(x: np.ndarray, fs: float, offset_s: float = 0.0) -> list[np.ndarray]:
    """As evaluate_record: consecutive 3 s snapshots (at most 4; the whole record when shorter),
    after dropping the first ``offset_s`` seconds."""
    x = x[int(round(offset_s * fs)):]
    n = max(int(SNAPSHOT_S * fs), 256)
    starts = list(range(0, max(len(x) - n + 1, 1), n))[:MAX_SNAPSHOTS]
    return [np.asarray(x[i:i + n], dtype=np.float64) for i in starts]


def vote(names: list[str | None]) -> str:
    votes = Counter(n or "none" for n in names)
    return votes.most_common(1)[0][0]  # ties: the one named first


def record_job(args: tuple[str, str, float]) -> dict:
    """Per snapshot: the current method's answer and the CSC family scores of every arm."""
    path, variant, offset_s = args
    rec = read(path)
    machine = machine_of(rec.meta, rec.rpm)
    mult = machine.bearing.multipliers()
    x, fs = np.asarray(rec.x, dtype=np.float64), float(rec.fs)
    if variant == "dec12k":
        x, fs = ssig.decimate(x, 4, ftype="fir"), fs / 4
    out = {"name": rec.name, "true_fault": rec.fault, "fs": fs, "snapshots": []}
    for s in snapshots(x, fs, offset_s):
        mode, _, _ = diagnose(Snapshot(0.0, fs, s, rpm=rec.rpm), machine)
        shaft_hz, sp = snapshot_speed(s, fs, rec.rpm)
        snap = {"current": mode or "none", "shaft_hz": shaft_hz}
        snap.update(csc_scores(s, fs, shaft_hz, mult))
        snap.update({k + "+hann": v for k, v in csc_scores(s, fs, shaft_hz, mult, taper=True).items()})
        for res in (50.0, 200.0):  # carrier-resolution sensitivity (full arm)
            snap[f"full@{res:g}Hz"] = csc_scores(s, fs, shaft_hz, mult, res, ("full",))["full"]
        shaft_mode, _, _ = shaft_fault(sp, shaft_hz, machine)
        snap["shaft_fault"] = shaft_mode
        out["snapshots"].append(snap)
    return out


def name_record(r: dict, key: str, threshold: float) -> str:
    names = []
    for s in r["snapshots"]:
        n = name_from(s[key], threshold)
        names.append(n if n is not None else s["shaft_fault"])  # as diagnose: a shaft fault when no bearing fault
    return vote(names)


# ---------------------------------------------------------------------------------------------
# white noise: the threshold


def noise_job(args: tuple[float, str, float, int]) -> dict:
    fs, bearing, rpm, seed = args
    geo = {"6203": (8, 0.2656, 1.122), "6205": (9, 0.3126, 1.537)}[bearing]
    from detectors.types import BearingGeometry
    mult = BearingGeometry(*geo).multipliers()
    x = np.random.default_rng(seed).normal(0, 1, int(SNAPSHOT_S * fs))
    shaft_hz = rpm / 60
    res = {"fs": fs, "bearing": bearing, "rpm": rpm, "seed": seed}
    for arm, sc in csc_scores(x, fs, shaft_hz, mult).items():
        res[arm] = max(sc.values())
    for arm, sc in csc_scores(x, fs, shaft_hz, mult, taper=True).items():
        res[arm + "+hann"] = max(sc.values())
    for cr in (50.0, 200.0):
        res[f"full@{cr:g}Hz"] = max(csc_scores(x, fs, shaft_hz, mult, cr, ("full",))["full"].values())
    mode, _, ev = diagnose(Snapshot(0.0, fs, x, rpm=rpm), MachineInfo(rated_rpm=rpm, bearing=BearingGeometry(*geo)))
    res["current_named"] = mode
    return res


# ---------------------------------------------------------------------------------------------


KEYS = ("full", "band", "full+hann", "band+hann", "full@50Hz", "full@200Hz")


def summarise(records: list[dict], key: str, threshold: float) -> dict:
    rows = {}
    for r in records:
        rows[r["name"]] = {"true": r["true_fault"],
                           "current": vote([s["current"] if s["current"] != "none" else None for s in r["snapshots"]]),
                           "csc": name_record(r, key, threshold)}
    faults = [v for v in rows.values() if v["true"] != "none"]
    per = {}
    for fam in ("inner_race", "outer_race", "ball"):
        fr = [v for v in faults if v["true"] == fam]
        per[fam] = {"n": len(fr), "csc": sum(v["csc"] == fam for v in fr), "current": sum(v["current"] == fam for v in fr)}
    healthy = {k: v for k, v in rows.items() if v["true"] == "none"}
    return {"key": key, "threshold_db": round(threshold, 2), "fault_records": len(faults),
            "csc_right": sum(v["csc"] == v["true"] for v in faults),
            "current_right": sum(v["current"] == v["true"] for v in faults),
            "per_family": per,
            "healthy": {k: {"csc": v["csc"], "current": v["current"]} for k, v in healthy.items()},
            "rows": rows}


def cost_ms(path: str, repeat: int = 20) -> dict:
    rec = read(path)
    machine = machine_of(rec.meta, rec.rpm)
    mult = machine.bearing.multipliers()
    x = np.asarray(rec.x[: int(SNAPSHOT_S * rec.fs)], dtype=np.float64)
    out = {"record": rec.name, "fs": rec.fs}
    for label, fn in (("current diagnose", lambda: diagnose(Snapshot(0.0, rec.fs, x, rpm=rec.rpm), machine)),
                      ("csc full (speed + Fast SC + EES + scoring)",
                       lambda: csc_scores(x, rec.fs, snapshot_speed(x, rec.fs, rec.rpm)[0], mult, arms=("full",))),
                      ("csc band", lambda: csc_scores(x, rec.fs, snapshot_speed(x, rec.fs, rec.rpm)[0], mult, arms=("band",))),
                      ("csc full+hann", lambda: csc_scores(x, rec.fs, snapshot_speed(x, rec.fs, rec.rpm)[0], mult,
                                                           arms=("full",), taper=True))):
        fn()
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn()
        out[label] = round((time.perf_counter() - t0) / repeat * 1000, 1)
    return out


def _rounded(o):
    if isinstance(o, float):
        return round(o, 2)
    if isinstance(o, dict):
        return {k: _rounded(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_rounded(v) for v in o]
    return o


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", help="the CWRU folder (*.npz + *.json)")
    ap.add_argument("--json", default=str(Path(__file__).resolve().parent / "results" / "cwru_cyclic.json"))
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    paths = sorted(str(p) for p in Path(args.data).glob("*.npz"))
    if not paths:
        sys.exit(f"no CWRU records (*.npz) in {args.data}")
    t0 = time.time()
    with Pool(args.jobs) as pool:
        noise = pool.map(noise_job, [(fs, b, rpm, seed) for fs in (12000.0, 48000.0) for b in ("6203", "6205")
                                     for rpm in (1730.0, 1797.0) for seed in range(NOISE_TRIALS // 2)])
        thresholds = {k: float(np.quantile([n[k] for n in noise], THRESHOLD_QUANTILE)) for k in KEYS}
        print("white-noise thresholds (99th pct of best family score, dB):",
              {k: round(v, 2) for k, v in thresholds.items()},
              f"(current method names {sum(n['current_named'] is not None for n in noise)} of {len(noise)} noise snapshots)")
        runs = {}
        runs["as_is"] = pool.map(record_job, [(p, "as_is", 0.0) for p in paths])
        runs["shift0.75s"] = pool.map(record_job, [(p, "as_is", 0.75) for p in paths])
        de = [p for p in paths if Path(p).name.startswith(("48k_Drive_End", "normal"))]
        runs["dec12k"] = pool.map(record_job, [(p, "dec12k", 0.0) for p in de])
    results = {}
    for run, recs in runs.items():
        for key in KEYS:
            base = thresholds[key]
            for t in sorted({round(base, 2), 2.0, 3.0, 4.0, 5.0}):
                s = summarise(recs, key, t)
                if t != round(base, 2):  # the per-record rows are kept at the white-noise threshold only
                    s = {k: v for k, v in s.items() if k != "rows"}
                results.setdefault(run, []).append(s)
                print(f"{run:11s} {key:11s} thr {t:5.2f} dB: CSC {s['csc_right']:2d}/{s['fault_records']}  current "
                      f"{s['current_right']:2d}/{s['fault_records']}  healthy {s['healthy']}  "
                      + " ".join(f"{k[:5]} {v['csc']}/{v['n']} (cur {v['current']})" for k, v in s["per_family"].items()))
    # no threshold at all (every snapshot names its best family): what the representation ranks right
    ranking = {}
    for run, recs in runs.items():
        for key in KEYS:
            right = sum(vote([FAMILY_MODE[max(s[key], key=s[key].get)] for s in r["snapshots"]]) == r["true_fault"]
                        for r in recs if r["true_fault"] != "none")
            healthy_best = {r["name"]: round(max(max(s[key].values()) for s in r["snapshots"]), 2)
                            for r in recs if r["true_fault"] == "none"}
            ranking.setdefault(run, {})[key] = {"right_without_threshold": right,
                                                "fault_records": sum(r["true_fault"] != "none" for r in recs),
                                                "healthy_best_score_db": healthy_best}
            print(f"{run:11s} {key:11s} best family, no threshold: {right} right; healthy record's best score "
                  f"{healthy_best} dB (white-noise threshold {thresholds[key]:.2f})")
    # per-record table at the white-noise threshold (full arm)
    main_sum = next(s for s in results["as_is"] if s["key"] == "full" and s["threshold_db"] == round(thresholds["full"], 2))
    print("\nper record (as is, full carriers, white-noise threshold):")
    for name, v in main_sum["rows"].items():
        print(f"  {name:32s} {v['true']:11s} current {v['current']:11s} csc {v['csc']}")
    cost = [cost_ms(next(p for p in paths if "12k_Fan_End_IR007_0" in p)),
            cost_ms(next(p for p in paths if "48k_Drive_End_IR007" in p), repeat=5)]
    print("cost per 3 s snapshot (ms):", cost)
    doc = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
           "command": f".venv/bin/python bench/cwru_cyclic.py {args.data}",
           "settings": {"snapshot_s": SNAPSHOT_S, "max_snapshots": MAX_SNAPSHOTS, "carrier_res_hz": CARRIER_RES_HZ,
                        "threshold_quantile": THRESHOLD_QUANTILE, "noise_snapshots": len(noise)},
           "white_noise_thresholds_db": thresholds,
           "white_noise_current_named": sum(n["current_named"] is not None for n in noise),
           "without_threshold": ranking,
           "summaries": results,
           "snapshot_scores": _rounded(runs), "cost_ms": cost, "elapsed_s": round(time.time() - t0, 1)}
    Path(args.json).write_text(json.dumps(doc, indent=1, default=float) + "\n")
    print(f"wrote {args.json} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
