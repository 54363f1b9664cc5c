"""Can a family classifier trained only on simulated snapshots name CWRU faults better? (a measurement, not a detector)

Idea 3 of the fifth CWRU session (2026-11-22). The diagnosis's own evidence for one 3 s snapshot is
reduced to six numbers, each the mean SNR (dB above the local background, below it 0, lines on a
shaft harmonic 0 as in :func:`detectors.diagnosis.bearing_scores`) of one group of lines in the
band and SES that :func:`detectors.diagnose` reads:

    bpfo_h  BPFO, 2x, 3x          bsf_h   BSF, 2x, 3x
    bpfi_h  BPFI, 2x, 3x          bsf_sb  2xBSF +- FTF
    bpfi_sb BPFI +- 1x shaft      ftf     FTF, 2xFTF

The adopted rule is a fixed function of them (outer = bpfo_h; inner = bpfi_h + 0.5 bpfi_sb; ball =
max(bsf_h + 0.5 bsf_sb, ftf); the largest wins at >= 4 dB): the script recomputes it from the six
numbers and checks that it reproduces ``foreshock evaluate`` (42 / 58). A multinomial logistic
regression (four classes: none, outer, inner, ball; L2, C = 1) is then trained on simulated
snapshots ONLY and applied unchanged to every CWRU snapshot, with the same vote over at most four
3 s snapshots. It never sees a CWRU label; the labels are read only to count.

The simulated snapshots (``simulate``): a random bearing from a small catalogue (6203, 6205 and four
others), fs 12 / 25.6 / 48 kHz, shaft 20-60 Hz stated with 0.3 % error, 1-3 structural resonances
(8-42 % of fs, damping 2-12 %), white + pink noise partly modulated by the shaft, a random comb of
3-60 shaft harmonics, and (three classes in four) an impact train from
:func:`simulator.waveform.impact_times` at BPFO / BPFI / BSF (or 2xBSF) with 0.3-2 % slip, impact
amplitudes varying 0-50 %, inner-race impacts modulated at 1x and ball impacts at FTF (depth
20-100 %), outer-race ones at 1x by 0-30 %, at an impact-to-background RMS ratio of -16 to +3 dB.
These ranges were set once, before the classifier was first applied to CWRU, and not changed after.

    .venv/bin/python bench/cwru_simclass.py [--data ../shared/datasets/cwru] [--n 1200] [--json FILE]

About 10 min on 2 busy cores (the simulation dominates).
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
from scipy.optimize import minimize
from scipy.signal import fftconvolve

import simulator.waveform as wf
from detectors.diagnosis import bearing_scores, envelope_segment_s
from detectors.envelope import squared_envelope_spectrum
from detectors.spectrum import refine_speed_hz
from evaluation.runs import machine_of
from foreshock.datasets import read
from simulator.models import Bearing

FEATURES = ("bpfo_h", "bpfi_h", "bpfi_sb", "bsf_h", "bsf_sb", "ftf")
_GROUP = {"bpfo": "bpfo_h", "bpfi": "bpfi_h", "bpfi_sideband": "bpfi_sb", "bsf": "bsf_h", "bsf_sideband": "bsf_sb",
          "ftf": "ftf"}
CLASSES = ("none", "outer_race", "inner_race", "ball")
CATALOGUE = (Bearing(8, 6.75, 28.5), Bearing(9, 7.94, 39.04), Bearing(9, 9.53, 46.0), Bearing(8, 10.32, 44.5),
             Bearing(10, 7.94, 44.5), Bearing(12, 6.35, 52.0))
FAMILY_MODE = {"bpfo": "outer_race", "bpfi": "inner_race", "bsf": "ball"}


def features(x: np.ndarray, fs: float, stated_hz: float, mult: dict[str, float]) -> list[float]:
    """The six group means for one snapshot, read in the band and SES that ``diagnose`` uses."""
    fr, _ = refine_speed_hz(x, fs, stated_hz)
    top_f = 3.5 * max(mult["bpfi"], 2 * mult["bsf"]) * fr
    ses = squared_envelope_spectrum(x, fs, min_bw_hz=top_f, segment_s=envelope_segment_s(mult, fr, x.size / fs))
    groups: dict[str, list[float]] = {k: [] for k in FEATURES}
    for _, lines in bearing_scores(ses, fr, mult, tol=0.01, sideband_weight=0.5).values():
        for e in lines:
            groups[_GROUP[e["family"]]].append(0.0 if e.get("ambiguous") else max(e["snr_db"], 0.0))
    return [float(np.mean(groups[k])) if groups[k] else 0.0 for k in FEATURES]


def adopted(f: list[float]) -> str:
    """``detectors.diagnose``'s bearing rule, from the six numbers."""
    s = {"bpfo": f[0], "bpfi": f[1] + 0.5 * f[2], "bsf": max(f[3] + 0.5 * f[4], f[5])}
    fam = max(s, key=lambda k: s[k])
    return FAMILY_MODE[fam] if s[fam] >= 4.0 else "none"


def _ring(fs: float, f0: float, zeta: float) -> np.ndarray:
    wn = 2 * math.pi * f0
    t = np.arange(max(int(math.log(1000.0) / (zeta * wn) * fs), 4)) / fs
    h = np.exp(-zeta * wn * t) * np.sin(wn * math.sqrt(1 - zeta ** 2) * t)
    return h / np.abs(h).max()


def simulate(seed: int) -> tuple[str, list[float]]:
    """One simulated 3 s snapshot's class and features (class = seed mod 4)."""
    kind, x, fs, stated, bearing = simulated_snapshot(seed)
    return kind, features(x, fs, stated, bearing.multipliers())


def simulated_snapshot(seed: int) -> tuple[str, np.ndarray, float, float, Bearing]:
    """One simulated 3 s snapshot (class = seed mod 4): its class, samples, rate, stated shaft speed
    (Hz) and bearing (also ``bench/cwru_seventh.py``'s calibration)."""
    rng = np.random.default_rng(seed)
    kind = CLASSES[seed % 4]
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
            rate *= 2  # a ball defect that strikes both races
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
    return kind, x, fs, stated, bearing


class Softmax:
    """Multinomial logistic regression on standardised features, L2 penalty 1/C (no scikit-learn here)."""

    def __init__(self, c: float = 1.0) -> None:
        self.c = c

    def _phi(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, float) - self.mu) / self.sd
        return np.hstack([z, np.ones((z.shape[0], 1))])

    def fit(self, x: np.ndarray, y: list[str]) -> Softmax:
        x = np.asarray(x, float)
        self.mu, self.sd = x.mean(0), x.std(0) + 1e-9
        self.classes = sorted(set(y))
        onehot = np.array([[c == k for k in self.classes] for c in y], float)
        p = self._phi(x)
        d, kk = p.shape[1], len(self.classes)

        def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
            wm = w.reshape(d, kk)
            z = p @ wm
            z -= z.max(1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(1, keepdims=True))
            val = -(onehot * logp).sum() / len(p) + 0.5 / self.c * (wm[:-1] ** 2).sum() / len(p)
            g = p.T @ (np.exp(logp) - onehot) / len(p)
            g[:-1] += wm[:-1] / self.c / len(p)
            return val, g.ravel()

        self.w = minimize(loss, np.zeros(d * kk), jac=True, method="L-BFGS-B", options={"maxiter": 3000}).x.reshape(d, kk)
        return self

    def predict(self, x: np.ndarray) -> list[str]:
        return [self.classes[i] for i in np.argmax(self._phi(x) @ self.w, 1)]

    def weights(self) -> dict[str, dict[str, float]]:
        return {c: {f: round(float(self.w[i, j]), 3) for i, f in enumerate((*FEATURES, "bias"))}
                for j, c in enumerate(self.classes)}


def cwru_features(path: str, offset_s: float = 0.0) -> dict:
    """Per snapshot (3 s, at most 4, as ``foreshock evaluate``; cut ``offset_s`` later) the six numbers."""
    rec = read(path)
    mult = machine_of(rec.meta, rec.rpm).bearing.multipliers()
    n = int(3 * rec.fs)
    x = rec.x[int(offset_s * rec.fs):]
    if len(x) < min(n, len(rec.x)):  # a record too short for the offset: its last snapshot's worth
        x = rec.x[-min(n, len(rec.x)):]
    starts = list(range(0, max(len(x) - n + 1, 1), n))[:4]
    feats = [features(np.asarray(x[i:i + n], dtype=np.float64), float(rec.fs), rec.rpm / 60, mult) for i in starts]
    return {"name": rec.name, "true_fault": rec.fault, "features": feats}


def vote(names: list[str]) -> str:
    return Counter(names).most_common(1)[0][0]  # ties: the first named, as evaluation.records


def count(records: list[dict], key: str) -> dict:
    faults = [r for r in records if r["true_fault"] != "none"]
    per = {k: sum(r[key] == r["true_fault"] for r in faults if r["true_fault"] == k) for k in CLASSES[1:]}
    return {"right": sum(per.values()), "of": len(faults), **per,
            "healthy_named": [r[key] for r in records if r["true_fault"] == "none"]}


def ceiling(recs: list[dict]) -> dict:
    """How far the six numbers could carry a linear rule that DID see CWRU's labels (an upper bound for
    any classifier on them, not a method): fit on all records but one fault group (the same fault, size
    and position at every load, e.g. 12k fan-end B007 at 0-3 hp), name the held-out group, and so on.
    There is one healthy record: held out, no ``none`` class is left to name it."""
    group = [r["name"].rsplit("_", 2)[0] for r in recs]
    named = {}
    for g in sorted(set(group)):
        train = [r for r, gg in zip(recs, group, strict=True) if gg != g]
        clf = Softmax().fit(np.array([f for r in train for f in r["features"]]),
                            [r["true_fault"] for r in train for _ in r["features"]])
        for r, gg in zip(recs, group, strict=True):
            if gg == g:
                named[r["name"]] = vote(clf.predict(np.array(r["features"])))
    rows = [{"name": r["name"], "true_fault": r["true_fault"], "held_out_fit": named[r["name"]]} for r in recs]
    return {**count(rows, "held_out_fit"), "groups": len(set(group)),
            "wrong": {r["name"]: r["held_out_fit"] for r in rows if r["held_out_fit"] != r["true_fault"]}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cwru"))
    ap.add_argument("--n", type=int, default=1200, help="simulated snapshots per training set")
    ap.add_argument("--seeds", default="0,100000", help="first seed of each training set")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    paths = sorted(str(p) for p in Path(args.data).glob("*.npz"))
    if not paths:
        sys.exit(f"no CWRU records (*.npz) in {args.data}")
    t0 = time.time()
    out: dict = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
                 "command": ".venv/bin/python bench/cwru_simclass.py" + (f" --json {args.json}" if args.json else ""),
                 "features": FEATURES, "training_sets": [], "offsets": {}}
    with Pool(2) as pool:
        sets = []
        for base in (int(s) for s in args.seeds.split(",")):
            sim = pool.map(simulate, range(base, base + args.n), chunksize=20)
            xs, ys = np.array([f for _, f in sim]), [k for k, _ in sim]
            half = len(ys) // 2
            held = Softmax().fit(xs[:half], ys[:half]).predict(xs[half:])
            clf = Softmax().fit(xs, ys)
            sets.append(clf)
            doc = {"first_seed": base, "snapshots": len(ys),
                   "simulated_holdout_accuracy": round(float(np.mean([a == b for a, b in zip(held, ys[half:], strict=True)])), 3),
                   "weights_per_class_on_standardised_features": clf.weights(),
                   "feature_means_per_class": {c: [round(float(v), 2) for v in xs[[y == c for y in ys]].mean(0)] for c in CLASSES}}
            out["training_sets"].append(doc)
            print(f"training set from seed {base}: {len(ys)} simulated snapshots, held-out accuracy "
                  f"{doc['simulated_holdout_accuracy']}")
        for off in (0.0, 0.75, 1.5):
            recs = pool.map(partial(cwru_features, offset_s=off), paths)
            for r in recs:
                r["adopted"] = vote([adopted(f) for f in r["features"]])
                for j, clf in enumerate(sets):
                    r[f"classifier_{j}"] = vote(clf.predict(np.array(r["features"])))
            summary = {"adopted": count(recs, "adopted"),
                       **{f"classifier_{j}": count(recs, f"classifier_{j}") for j in range(len(sets))}}
            out["offsets"][str(off)] = {"summary": summary, "records": recs}
            for k, v in summary.items():
                print(f"snapshots cut {off:g} s later, {k:13s}: {v['right']} / {v['of']} (inner {v['inner_race']}, "
                      f"outer {v['outer_race']}, ball {v['ball']}); healthy record named {v['healthy_named']}")
    recs = out["offsets"]["0.0"]["records"]
    out["ceiling_with_cwru_labels"] = ceiling(recs)
    print(f"ceiling, NOT a method (the same classifier fit on CWRU's own labels, each fault group held out): "
          f"{out['ceiling_with_cwru_labels']['right']} / 58, healthy record named "
          f"{out['ceiling_with_cwru_labels']['healthy_named']}")
    print("\nrecords where the classifiers and the adopted rule differ (offset 0):")
    for r in recs:
        if any(r[f"classifier_{j}"] != r["adopted"] for j in range(len(sets))):
            print(f"  {r['name']:32s} true {r['true_fault']:11s} adopted {r['adopted']:11s} "
                  + " ".join(r[f"classifier_{j}"] for j in range(len(sets))))
    # the cost of the classifier step alone (the features come from the SES and lines diagnose computes)
    x = np.ones((4, len(FEATURES)))
    reps = 2000
    t1 = time.perf_counter()
    for _ in range(reps):
        sets[0].predict(x)
    out["classifier_cost_ms_per_snapshot"] = round((time.perf_counter() - t1) / reps / 4 * 1000, 4)
    out["seconds"] = round(time.time() - t0, 1)
    print(f"classifier step: {out['classifier_cost_ms_per_snapshot']} ms per snapshot; run took {out['seconds']} s")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
