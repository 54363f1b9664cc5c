"""Does removing the shaft-synchronous part first (discrete/random separation) help the CWRU diagnosis? (a measurement)

Idea 1 of the fifth CWRU session (2026-11-22). Each 3 s snapshot (at most 4 per record, vote, as
``foreshock evaluate``) has its synchronous average subtracted before the diagnosis's own band
choice and scoring (:func:`detectors.diagnosis._diagnose_at`, at the speed ``diagnose`` uses):

- ``tsa``: time-synchronous averaging in the angle domain, Randall's benchmark step. The speed is
  located within +-0.4 % of the diagnosis's (the largest mean log power of harmonics 1-40 on an 8x
  zero-padded spectrum); the snapshot is FFT-upsampled 4x, resampled to a power of two samples per
  revolution over its whole revolutions, averaged, and the average read back at every sample's
  shaft angle and subtracted.
- ``tsa_stated``: the same at the diagnosis's speed, not refined.
- ``harmonics`` (``--harmonics``, slow): least-squares tones at every shaft harmonic up to Nyquist
  (the Hann-weighted DFT at the exact frequency) subtracted, at the refined speed.

First a check that the subtraction works (``synthetic_check``): a comb of 149 shaft harmonics in
white noise, the speed given 0.1 % off; the script prints the share of the comb's power left.

    .venv/bin/python bench/cwru_drs.py [--data ../shared/datasets/cwru] [--harmonics] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
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

from detectors.diagnosis import _diagnose_at
from detectors.spectrum import Spectrum, refine_speed_hz
from evaluation.runs import machine_of
from foreshock.datasets import read

MODES = ("outer_race", "inner_race", "ball")


def fine_speed(x: np.ndarray, fs: float, fr: float, span: float = 0.004, harmonics: int = 40) -> float:
    """The shaft speed within ``±span`` of ``fr``: the largest mean log power of its harmonics, 8x zero-padded."""
    n = x.size
    nfft = 8 * n
    power = np.abs(sfft.rfft((x - x.mean()) * np.hanning(n), nfft)) ** 2
    h = np.arange(1, min(harmonics, int(fs / 2 / (fr * (1 + span))) - 1) + 1)
    cands = fr * np.linspace(1 - span, 1 + span, 801)
    idx = np.rint(np.outer(cands, h) / (fs / nfft)).astype(int)
    return float(cands[int(np.argmax(np.log10(power[idx] + 1e-30).mean(axis=1)))])


def tsa_subtract(x: np.ndarray, fs: float, fr: float, refine: bool = True) -> np.ndarray:
    """``x`` minus its synchronous average (angle domain)."""
    if refine:
        fr = fine_speed(x, fs, fr)
    n, up = x.size, 4
    xu = sfft.irfft(np.concatenate([sfft.rfft(x), np.zeros(n * up // 2 + 1 - (n // 2 + 1))]), n * up) * up
    per_rev = int(2 ** np.ceil(np.log2(up * fs / fr)))
    revs = int(np.floor(n / fs * fr))
    xa = np.interp(np.arange(revs * per_rev) / (per_rev * fr), np.arange(n * up) / (fs * up), xu)
    avg = np.append(xa.reshape(revs, per_rev).mean(axis=0), 0.0)
    avg[-1] = avg[0]
    phase = (np.arange(n) / fs * fr) % 1.0 * per_rev
    i = np.floor(phase).astype(int)
    frac = phase - i
    return x - (avg[i] * (1 - frac) + avg[i + 1] * frac)


def harmonic_subtract(x: np.ndarray, fs: float, fr: float) -> np.ndarray:
    """``x`` minus least-squares tones at every shaft harmonic up to Nyquist (refined speed)."""
    fr = fine_speed(x, fs, fr)
    n = x.size
    base = np.exp(-2j * np.pi * fr / fs * np.arange(n))
    w = np.hanning(n)
    xw, norm = x * w, w.sum()
    cur = np.ones(n, dtype=complex)
    syn = np.zeros(n)
    for _ in range(int(fs / 2 / fr) - 1):
        cur *= base
        syn += ((2 * np.dot(xw, cur) / norm) * np.conj(cur)).real
    return x - syn


VARIANTS = {"adopted": None, "tsa": tsa_subtract, "tsa_stated": partial(tsa_subtract, refine=False),
            "harmonics": harmonic_subtract}


def synthetic_check() -> dict[str, float]:
    """Share of a synthetic shaft comb's power that each subtraction leaves (speed given 0.1 % off)."""
    fs, fr = 12000.0, 29.53
    t = np.arange(36000) / fs
    rng = np.random.default_rng(0)
    comb = sum(np.cos(2 * np.pi * k * fr * t + rng.uniform(0, 6.28)) / k ** 0.3 for k in range(1, 150))
    noise = rng.normal(0, 1, t.size)
    return {name: round(float(np.var(f(comb + noise, fs, fr * 1.001) - noise) / np.var(comb)), 5)
            for name, f in (("tsa", tsa_subtract), ("harmonics", harmonic_subtract))}


def record(path: str, variants: tuple[str, ...]) -> dict:
    rec = read(path)
    machine = machine_of(rec.meta, rec.rpm)
    n = max(int(3 * rec.fs), 256)
    starts = list(range(0, max(len(rec.x) - n + 1, 1), n))[:4]
    out = {"name": rec.name, "true_fault": rec.fault}
    for v in variants:
        votes: Counter[str] = Counter()
        scores = []
        for i in starts:
            x = np.asarray(rec.x[i:i + n], dtype=np.float64)
            fs = float(rec.fs)
            sp = Spectrum.of(x, fs)
            fr, _ = refine_speed_hz(x, fs, rec.rpm / 60, sp)
            y = x if VARIANTS[v] is None else VARIANTS[v](x, fs, fr)
            mode, _, ev = _diagnose_at(y, fs, sp, fr, machine, 4.0, 0.01, 0.5)
            votes[mode if mode in MODES else "none"] += 1
            scores.append(next((e["scores"] for e in ev if e.get("family") == "summary"), None))
        out[v] = votes.most_common(1)[0][0]
        out[v + "_scores"] = scores
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cwru"))
    ap.add_argument("--harmonics", action="store_true", help="also the (slow) harmonic subtraction")
    ap.add_argument("--json", help="write the per-record results here")
    args = ap.parse_args()
    paths = sorted(str(p) for p in Path(args.data).glob("*.npz"))
    if not paths:
        sys.exit(f"no CWRU records (*.npz) in {args.data}")
    check = synthetic_check()
    print(f"synthetic comb of 149 shaft harmonics: power left {check}")
    variants = ("adopted", "tsa", "tsa_stated") + (("harmonics",) if args.harmonics else ())
    with Pool(2) as pool:
        res = pool.map(partial(record, variants=variants), paths)
    summary = {}
    for v in variants:
        faults = [r for r in res if r["true_fault"] != "none"]
        per = {k: sum(r[v] == r["true_fault"] for r in faults if r["true_fault"] == k) for k in MODES}
        summary[v] = {"right": sum(per.values()), "of": len(faults), **per,
                      "healthy_named": [r[v] for r in res if r["true_fault"] == "none"]}
        s = summary[v]
        print(f"{v:11s}: {s['right']} / {s['of']} (inner {s['inner_race']}, outer {s['outer_race']}, ball {s['ball']}); "
              f"healthy record named {s['healthy_named']}")
    print("\nrecords named differently:")
    for r in res:
        if len({r[v] for v in variants}) > 1:
            print(f"  {r['name']:32s} true {r['true_fault']:11s} " + " ".join(f"{v}={r[v]}" for v in variants))
    x = np.asarray(read(paths[0]).x[:36000], dtype=np.float64)
    t0 = time.perf_counter()
    for _ in range(20):
        tsa_subtract(x, 12000.0, 29.5)
    cost = (time.perf_counter() - t0) / 20 * 1000
    print(f"tsa: {cost:.1f} ms per 3 s 12 kHz snapshot (on top of diagnose)")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": ".venv/bin/python bench/cwru_drs.py" + (" --harmonics" if args.harmonics else "") + f" --json {args.json}",
            "synthetic_comb_power_left": check, "summary": summary, "tsa_ms_per_12k_3s_snapshot": round(cost, 1), "records": res}, indent=1) + "\n")


if __name__ == "__main__":
    main()
