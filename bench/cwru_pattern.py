"""Families judged by the whole line pattern physics predicts, against noise (a measurement, not a detector)

Idea 2 of the fifth CWRU session (2026-11-22). In the band and SES ``diagnose`` uses, every family
is read at all the lines its physics predicts, with the diagnosis's search windows and masking
(:func:`detectors.diagnosis.bearing_scores`' rules; lines on a shaft harmonic left out):

    outer race  BPFO, 2x, 3x (no shaft sidebands: the race does not move)
    inner race  BPFI, 2x, 3x and +-1x shaft around each (load-zone modulation)
    ball        BSF, 2x, 3x, 2xBSF +- FTF, FTF, 2xFTF (the cage carries the ball through the load zone)

Each line's peak/background ratio r becomes the chance that noise puts a bin as high in its window
of w bins: p = 1 - (1 - P(r))^w, P from the same pipeline run on white and pink noise snapshots of
the record's length, rate and bearing (so a wide window or a sideband-rich family gains nothing
from noise). A family's score is either Fisher's combination of its lines' p (``fisher``: -log10
of the combined p-value) or the mean of -log10 p (``mean``). The best family is named when it
clears the 99th percentile of the best score on 80 further noise snapshots (one threshold per
pipeline setting, from noise only, never from CWRU). Vote over at most four 3 s snapshots.

    .venv/bin/python bench/cwru_pattern.py [--data ../shared/datasets/cwru] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from datetime import UTC, datetime
from functools import lru_cache, partial
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from scipy import stats

from detectors.diagnosis import _INSEPARABLE, envelope_segment_s
from detectors.envelope import SES, squared_envelope_spectrum
from detectors.spectrum import refine_speed_hz
from evaluation.runs import machine_of
from foreshock.datasets import read

FAMILY_MODE = {"bpfo": "outer_race", "bpfi": "inner_race", "bsf": "ball"}
COMBINE = ("fisher", "mean")


def family_lines(mult: dict[str, float], fr: float, fmax: float) -> list[tuple[str, float]]:
    bpfo, bpfi, bsf, ftf = (mult[k] * fr for k in ("bpfo", "bpfi", "bsf", "ftf"))
    lines = [("bpfo", h * bpfo) for h in (1, 2, 3)] + [("bpfi", h * bpfi) for h in (1, 2, 3)]
    lines += [("bpfi", h * bpfi + s * fr) for h in (1, 2, 3) for s in (-1, 1)]
    lines += [("bsf", h * bsf) for h in (1, 2, 3)] + [("bsf", 2 * bsf + s * ftf) for s in (-1, 1)]
    lines += [("bsf", h * ftf) for h in (1, 2)]
    return [ln for ln in lines if 0 < ln[1] < fmax]


def read_lines(ses: SES, f: np.ndarray, fr: float, tol: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Per line: (largest bin / background, bins searched), with the diagnosis's masking rules."""
    df, n, amp = ses.df, ses.amp.size, ses.amp
    half = np.maximum(tol * f + df, df)
    i0 = np.clip(np.searchsorted(ses.freqs, f - half), 1, n - 1)
    i1 = np.maximum(np.clip(np.searchsorted(ses.freqs, f + half + 1e-9), 1, n), i0 + 1)
    separable = np.abs(f - np.round(f / fr) * fr) > 2.5 * df
    on_shaft = np.abs(ses.freqs - np.round(ses.freqs / fr) * fr) <= 2 * df
    on_shaft[0] = False
    peak = np.ones(n, bool)
    peak[1:-1] = (amp[1:-1] >= amp[:-2]) & (amp[1:-1] >= amp[2:])
    masked = np.where(on_shaft | ~peak, 0.0, amp)
    bg = ses.background_at(f)
    r, w = np.empty(f.size), np.empty(f.size)
    for j in range(f.size):
        seg = (masked if separable[j] else amp)[i0[j]:i1[j]]
        r[j] = seg.max() / bg[j]
        w[j] = max(int((seg > 0).sum()) if separable[j] else seg.size, 1)
    return r, w


def scores(ses: SES, fr: float, mult: dict[str, float], null: np.ndarray, combine: str) -> dict[str, float]:
    lines = family_lines(mult, fr, float(ses.freqs[-1] * 0.9))
    f = np.array([ln[1] for ln in lines])
    amb = np.abs(f - np.round(f / fr) * fr) < _INSEPARABLE * fr
    r, w = read_lines(ses, f, fr)
    p1 = np.maximum((null.size - np.searchsorted(null, r)) / null.size, 0.5 / null.size)
    p = np.clip(1 - (1 - p1) ** w, 1e-12, 1.0)
    out = {}
    for fam in FAMILY_MODE:
        idx = [i for i, ln in enumerate(lines) if ln[0] == fam and not amb[i]]
        if not idx:
            out[fam] = 0.0
        elif combine == "fisher":
            out[fam] = float(-np.log10(max(stats.chi2.sf(-2 * np.log(p[idx]).sum(), 2 * len(idx)), 1e-300)))
        else:
            out[fam] = float(-np.log10(p[idx]).mean())
    return out


def ses_of(x: np.ndarray, fs: float, fr: float, mult: dict[str, float]) -> SES:
    top_f = 3.5 * max(mult["bpfi"], 2 * mult["bsf"]) * fr
    return squared_envelope_spectrum(x, fs, min_bw_hz=top_f, segment_s=envelope_segment_s(mult, fr, x.size / fs))


def noise(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    if k % 2:
        return rng.standard_normal(n)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.size)
    f[0] = 1
    return np.fft.irfft(spec / np.sqrt(f), n)


@lru_cache(maxsize=8)
def calibrate(fs: float, n: int, mult_items: tuple, fr: float, combine: str, reps: int = 40) -> tuple[np.ndarray, float]:
    """(sorted bin/background ratios on noise, the 99th percentile of the best family score on noise)."""
    mult = dict(mult_items)
    rng = np.random.default_rng(12345)
    ratios = []
    for k in range(reps):
        ses = ses_of(noise(k, n, rng), fs, fr, mult)
        i0, i1 = np.searchsorted(ses.freqs, [5.0, 16 * fr])
        ratios.append(ses.amp[i0:i1] / ses.background_at(ses.freqs[i0:i1]))
    null = np.sort(np.concatenate(ratios))
    best = [max(scores(ses_of(noise(k, n, rng), fs, fr, mult), fr, mult, null, combine).values()) for k in range(2 * reps)]
    return null, float(np.percentile(best, 99))


def record(path: str, combine: str) -> dict:
    rec = read(path)
    mult = machine_of(rec.meta, rec.rpm).bearing.multipliers()
    n = max(int(3 * rec.fs), 256)
    votes: Counter[str] = Counter()
    snaps = []
    for i in list(range(0, max(len(rec.x) - n + 1, 1), n))[:4]:
        x = np.asarray(rec.x[i:i + n], dtype=np.float64)
        fs = float(rec.fs)
        fr, _ = refine_speed_hz(x, fs, rec.rpm / 60)
        null, t99 = calibrate(fs, x.size, tuple(sorted(mult.items())), round(rec.rpm / 60, 1), combine)
        sc = scores(ses_of(x, fs, fr, mult), fr, mult, null, combine)
        fam = max(sc, key=lambda k: sc[k])
        votes[FAMILY_MODE[fam] if sc[fam] >= t99 else "none"] += 1
        snaps.append({**{k: round(v, 2) for k, v in sc.items()}, "noise_99th": round(t99, 2)})
    return {"name": rec.name, "true_fault": rec.fault, "named": votes.most_common(1)[0][0], "snapshots": snaps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cwru"))
    ap.add_argument("--json", help="write the per-record results here")
    args = ap.parse_args()
    paths = sorted(str(p) for p in Path(args.data).glob("*.npz"))
    if not paths:
        sys.exit(f"no CWRU records (*.npz) in {args.data}")
    doc: dict = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
                 "command": ".venv/bin/python bench/cwru_pattern.py" + (f" --json {args.json}" if args.json else "")}
    with Pool(2) as pool:
        for combine in COMBINE:
            res = pool.map(partial(record, combine=combine), paths)
            faults = [r for r in res if r["true_fault"] != "none"]
            per = {m: sum(r["named"] == r["true_fault"] for r in faults if r["true_fault"] == m) for m in FAMILY_MODE.values()}
            s = {"right": sum(per.values()), "of": len(faults), **per,
                 "healthy_named": [r["named"] for r in res if r["true_fault"] == "none"]}
            doc[combine] = {"summary": s, "records": res}
            print(f"{combine:6s}: {s['right']} / {s['of']} (inner {s['inner_race']}, outer {s['outer_race']}, "
                  f"ball {s['ball']}); healthy record named {s['healthy_named']}")
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
