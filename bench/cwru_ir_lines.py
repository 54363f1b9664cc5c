"""Which fan-end outer-race records carry an inner-race line pattern? (a measurement on whole records)

Fifth CWRU session (2026-11-22). Several 12 kHz fan-end outer-race records are named ``inner_race``
by every method measured so far, before and after removing the shaft-synchronous part
(``bench/cwru_drs.py``). This reads each fan-end inner- and outer-race record whole (10 s, finer
than a 3 s snapshot): the shaft speed located by the harmonic sum of orders 1-40 within ±0.4 % of
the speed ``diagnose`` uses (``fine_speed`` of ``bench/cwru_drs.py``), the squared envelope of the
band ``diagnose`` picks on the first 3 s, its Hann spectrum zero-padded 4x, and at BPFI, BPFI ± 1x
and BPFO the strongest bin within ±1.5 % that is not within 0.012x of a shaft harmonic, in orders
of the measured speed and in dB above the median of ±0.5x around it.

    .venv/bin/python bench/cwru_ir_lines.py [--data ../shared/datasets/cwru] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import scipy.fft as sfft
from cwru_drs import fine_speed

from detectors.diagnosis import envelope_segment_s
from detectors.envelope import squared_envelope_spectrum
from detectors.spectrum import refine_speed_hz
from evaluation.runs import machine_of
from foreshock.datasets import read


def lines(path: str) -> dict:
    rec = read(path)
    mult = machine_of(rec.meta, rec.rpm).bearing.multipliers()
    fs = float(rec.fs)
    x = np.asarray(rec.x, dtype=np.float64)
    first = x[:int(3 * fs)]
    fr = fine_speed(x, fs, refine_speed_hz(first, fs, rec.rpm / 60)[0])
    top_f = 3.5 * max(mult["bpfi"], 2 * mult["bsf"]) * fr
    lo, hi = squared_envelope_spectrum(first, fs, min_bw_hz=top_f,
                                       segment_s=envelope_segment_s(mult, fr, first.size / fs)).band_hz
    n = x.size
    spec = sfft.rfft(x - x.mean())
    z = np.zeros(n, complex)
    z[int(lo * n / fs):int(hi * n / fs)] = spec[int(lo * n / fs):int(hi * n / fs)]
    env = np.abs(sfft.ifft(z)) ** 2
    nf = 4 * n
    amp = np.abs(sfft.rfft((env - env.mean()) * np.hanning(n), nf))
    df = fs / nf

    def line(order: float, tol: float = 0.015) -> dict:
        i0, i1 = int(order * fr * (1 - tol) / df), int(order * fr * (1 + tol) / df)
        seg = amp[i0:i1].copy()
        o = np.arange(i0, i1) * df / fr
        seg[np.abs(o - np.round(o)) < 0.012] = 0.0
        j = i0 + int(np.argmax(seg))
        bg = float(np.median(amp[int(j - 0.5 * fr / df):int(j + 0.5 * fr / df)]))
        return {"order": round(j * df / fr, 4), "db": round(10 * np.log10(amp[j] / bg), 1)}

    return {"name": rec.name, "true_fault": rec.fault, "speed_hz": round(fr, 3), "band_hz": [lo, hi],
            "bpfi": line(mult["bpfi"]), "bpfi-1x": line(mult["bpfi"] - 1), "bpfi+1x": line(mult["bpfi"] + 1),
            "bpfo": line(mult["bpfo"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cwru"))
    ap.add_argument("--json", help="write the per-record lines here")
    args = ap.parse_args()
    paths = sorted(str(p) for p in Path(args.data).glob("12k_Fan_End_[IO]R*.npz"))
    if not paths:
        sys.exit(f"no 12 kHz fan-end inner/outer-race records in {args.data}")
    res = [lines(p) for p in paths]
    for r in res:
        print(f"{r['name']:30s} {r['true_fault']:10s} " + "  ".join(
            f"{k} {r[k]['order']:.4f}x {r[k]['db']:5.1f} dB" for k in ("bpfi", "bpfi-1x", "bpfi+1x", "bpfo")))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": f".venv/bin/python bench/cwru_ir_lines.py --json {args.json}", "records": res}, indent=1) + "\n")


if __name__ == "__main__":
    main()
