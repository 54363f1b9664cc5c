"""The NAB scalar detector and its variants: whole corpus, per data family, and a split that shows
whether a gain generalises (the variants: ``bench/nab_scalars_variants.py``).

Each variant is streamed over every NAB series exactly as ``foreshock evaluate`` does
(``evaluation.nab_corpus.stream_scores``: each value scored before it is learnt, a fresh detector per
series) and scored by ``evaluation.nab`` (not changed here). Printed per variant:

- the three profiles on the whole corpus (one threshold per profile, as NAB);
- per family (artificial, realAWSCloudwatch, realAdExchange, realKnownCause, realTraffic,
  realTweets): the family's series scored at the corpus threshold, normalised between the family's
  own null and perfect detectors (so the families show where a change gains or loses);
- the split: the files in sorted order, the threshold optimised on the even-numbered ones and the
  odd-numbered ones scored with it, and the other way round (normalised on the scored half).

    .venv/bin/python bench/nab_scalars.py [--data DIR] [--jobs 2] [--per-series] [--json FILE] [NAME ...]
    .venv/bin/python bench/nab_scalars.py --cost baseline adopted

The first variant named is the baseline: ``--per-series`` prints each series' raw standard score
against it, ``--cost`` times the variants per value against it (same run, interleaved, best of 3)
and sizes their state after the longest series. Any class here can also be given to the command
itself: ``foreshock evaluate DIR --scalar-detector bench/nab_scalars.py:NAME``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from detectors.scalar import ScalarAnomaly  # noqa: E402
from evaluation.nab import PROFILES, Series, _best, _null_and_perfect, _points, _score_at, score_corpus  # noqa: E402

PROFILE_NAMES = ("standard", "reward_low_fp", "reward_low_fn")
FAMILIES = ("artificial", "realAWSCloudwatch", "realAdExchange", "realKnownCause", "realTraffic", "realTweets")


def _variants() -> dict[str, Callable[[], Any]]:
    import nab_scalars_variants as sn

    return {
        "baseline": lambda: ScalarAnomaly(),  # the detector `foreshock evaluate` runs by default
        **sn.VARIANTS,
    }


VARIANTS = _variants()
globals().update(VARIANTS)  # each by name, for --scalar-detector bench/nab_scalars.py:NAME


def family(key: str) -> str:
    group = key.split("/", 1)[0]
    return "artificial" if group.startswith("artificial") else group


def _one(job: tuple[str, str]) -> tuple[str, str, Series]:
    from nab_variants import score_series

    name, path = job
    return (name, *score_series(path, VARIANTS[name]))


def _normalised(corpus: Mapping[str, Series], profile_name: str, threshold: float) -> float:
    """The corpus' normalised score with the detections at ``threshold``."""
    profile = PROFILES[profile_name]
    raw = _score_at(_points(corpus, profile), profile, threshold)
    null, perfect = _null_and_perfect(corpus, profile)
    return 100.0 * (raw - null) / (perfect - null) if perfect != null else 0.0


def evaluate(corpus: dict[str, Series]) -> dict[str, Any]:
    """Whole corpus, per family at the corpus threshold, and the even/odd split."""
    whole = score_corpus(corpus)
    out: dict[str, Any] = {p: round(whole[p].score, 2) for p in PROFILE_NAMES}
    out["threshold"] = {p: whole[p].threshold for p in PROFILE_NAMES}
    out["tp_fp_fn"] = [whole["standard"].tp, whole["standard"].fp, whole["standard"].fn]
    out["families"] = {}
    for fam in FAMILIES:
        part = {k: s for k, s in corpus.items() if family(k) == fam}
        out["families"][fam] = {p: round(_normalised(part, p, whole[p].threshold), 2) for p in PROFILE_NAMES}
    keys = sorted(corpus)
    halves = {"even": {k: corpus[k] for k in keys[0::2]}, "odd": {k: corpus[k] for k in keys[1::2]}}
    out["split"] = {}
    for tune, test in (("even", "odd"), ("odd", "even")):
        cells = {}
        for p in PROFILE_NAMES:
            profile = PROFILES[p]
            threshold = _best(_points(halves[tune], profile), profile)[0]
            cells[p] = round(_normalised(halves[test], p, threshold), 2)
        out["split"][f"{test} at {tune}'s threshold"] = cells
    out["per_series"] = whole["standard"].per_series
    return out


def cost(paths: list[str], names: list[str], repeats: int = 3) -> dict[str, Any]:
    """``bench/nab_variants.py``'s cost table for this file's variants."""
    import nab_variants

    return nab_variants.cost(paths, names, repeats, VARIANTS)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help=f"variants (default: all): {', '.join(VARIANTS)}")
    default_data = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "nab"
    ap.add_argument("--data", default=os.environ.get("FORESHOCK_NAB", str(default_data)),
                    help="the NAB corpus (data/ and labels/); default $FORESHOCK_NAB or ../shared/datasets/nab")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--per-series", action="store_true", help="print the per-series raw standard scores")
    ap.add_argument("--cost", action="store_true", help="time the variants instead of scoring them")
    ap.add_argument("--json", help="write the results here (one object per variant)")
    args = ap.parse_args()
    from nab_variants import chosen

    names, paths = chosen(ap, args, VARIANTS)
    if args.cost:
        result = cost(paths, names)
        if args.json:
            about = {"command": "bench/nab_scalars.py " + " ".join(sys.argv[1:]), "date": time.strftime("%Y-%m-%d")}
            Path(args.json).write_text(json.dumps({"_about": about, "cost": result}, indent=1) + "\n")
        return 0
    from nab_variants import score_all

    corpora = score_all(names, paths, args.jobs, _one)
    results = {n: evaluate(corpora[n]) for n in names}
    print("\n| variant | standard | reward low FP | reward low FN | TP / FP rows / FN (standard) |")
    print("|---|---|---|---|---|")
    for n, r in results.items():
        print(f"| {n} | {r['standard']:.1f} | {r['reward_low_fp']:.1f} | {r['reward_low_fn']:.1f} | "
              f"{' / '.join(map(str, r['tp_fp_fn']))} |")
    print("\nper family, at the corpus threshold (standard / low FP / low FN):")
    print("| variant | " + " | ".join(FAMILIES) + " |")
    print("|---|" + "---|" * len(FAMILIES))
    for n, r in results.items():
        cells = [" / ".join(f"{r['families'][f][p]:.1f}" for p in PROFILE_NAMES) for f in FAMILIES]
        print(f"| {n} | " + " | ".join(cells) + " |")
    print("\nsplit (threshold optimised on one half of the files, the other half scored; standard / low FP / low FN):")
    for n, r in results.items():
        cells = [f"{k}: " + " / ".join(f"{v[p]:.1f}" for p in PROFILE_NAMES) for k, v in r["split"].items()]
        print(f"  {n}: " + ";  ".join(cells))
    if args.per_series and len(names) > 1:
        ref = results[names[0]]["per_series"]
        for n in names[1:]:
            print(f"\n{n} - {names[0]} (raw standard, per series, changed by more than 0.01):")
            cur = results[n]["per_series"]
            for k in sorted(ref, key=lambda k: cur[k] - ref[k]):
                if abs(cur[k] - ref[k]) > 0.01:
                    print(f"  {cur[k] - ref[k]:+7.3f}  {ref[k]:+7.3f} -> {cur[k]:+7.3f}  {k}")
    if args.json:
        doc = {"_about": {"command": "bench/nab_scalars.py " + " ".join(sys.argv[1:]), "series": len(paths),
                          "date": time.strftime("%Y-%m-%d")},
               **{n: {k: v for k, v in r.items() if k != "per_series" or args.per_series} for n, r in results.items()}}
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
