"""Which CWRU records could any choice of envelope band diagnose? (an upper bound, not a detector)

For every record of ``../shared/datasets/cwru``, every 3 s snapshot (at most 4; the whole record when
shorter) and every dyadic band of levels 1-5 above the defect lines, the diagnosis's own family
scoring (:func:`detectors.diagnosis.bearing_scores`, same tolerance, resolution and sidebands as
:func:`detectors.diagnose`) is run and the winning family noted when it clears the naming threshold.
A record whose true family wins in no band of no snapshot is out of reach of envelope analysis
with this scoring, whatever the band selection; a healthy record that "wins" in some band shows how
much a search over bands inflates the scores.

    .venv/bin/python bench/cwru_band_oracle.py [--data ../shared/datasets/cwru] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from detectors.diagnosis import FAMILY_MODE, bearing_scores, envelope_segment_s
from detectors.envelope import squared_envelope_spectrum
from evaluation.runs import machine_of
from foreshock.datasets import read

MIN_SCORE = 4.0  # detectors.diagnose's default naming threshold


def winners(path: str) -> dict:
    rec = read(path)
    machine = machine_of(rec.meta, rec.rpm)
    mult = machine.bearing.multipliers()
    fr = rec.rpm / 60
    n = min(int(3 * rec.fs), len(rec.x))
    top_f = 3.5 * max(mult["bpfi"], 2 * mult["bsf"]) * fr
    seg = envelope_segment_s(mult, fr, n / rec.fs)
    wins: dict[str, int] = {}
    for i in list(range(0, len(rec.x) - n + 1, n))[:4]:
        x = np.asarray(rec.x[i:i + n], dtype=np.float64)
        for level in range(1, 6):
            w = rec.fs / 2 / 2 ** level
            if w < top_f:
                break
            for b in range(2 ** level):
                if b * w < top_f:
                    continue
                ses = squared_envelope_spectrum(x, rec.fs, band=(b * w, (b + 1) * w), segment_s=seg)
                sc = bearing_scores(ses, fr, mult, tol=0.01, sideband_weight=0.5, evidence=False)
                fam = max(sc, key=lambda k: sc[k][0])
                if sc[fam][0] >= MIN_SCORE:
                    wins[FAMILY_MODE[fam]] = wins.get(FAMILY_MODE[fam], 0) + 1
    return {"name": rec.name, "true_fault": rec.fault, "wins": wins}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cwru"))
    ap.add_argument("--json", help="write the per-record winners here")
    args = ap.parse_args()
    paths = sorted(str(p) for p in Path(args.data).glob("*.npz"))
    if not paths:
        sys.exit(f"no CWRU records (*.npz) in {args.data}")
    with Pool(2) as pool:
        res = pool.map(winners, paths)
    reach = [r for r in res if r["true_fault"] != "none" and r["true_fault"] in r["wins"]]
    faults = [r for r in res if r["true_fault"] != "none"]
    for r in res:
        mark = "reachable" if r["true_fault"] in r["wins"] else "OUT OF REACH" if r["true_fault"] != "none" else ""
        print(f"{r['name']:32s} {r['true_fault']:11s} {mark:13s} bands won: {r['wins']}")
    print(f"\nfault records whose true family wins in some band of some snapshot: {len(reach)} of {len(faults)}")
    if args.json:
        doc = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
               "command": ".venv/bin/python bench/cwru_band_oracle.py --json " + args.json,
               "fault_records": len(faults), "reachable_in_some_band": len(reach),
               "out_of_reach": [r["name"] for r in faults if r["true_fault"] not in r["wins"]],
               "healthy_bands_won": {r["name"]: r["wins"] for r in res if r["true_fault"] == "none"},
               "records": res}
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
