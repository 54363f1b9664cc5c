"""Name the failure mode behind a deviation from a unit's own baseline, with the evidence.

Used by :class:`detectors.UnitMonitor` once a unit leaves ``healthy``. Unlike
:func:`detectors.diagnose` (one record, no history) it compares each feature with the unit's
commissioning baseline (robust z-scores), so "how far above baseline" is part of the evidence.

Rules, in order (the first that holds wins):

1. a bearing defect family (``bpfo_db``, ``bpfi_db``, ``bsf_db``) rose ≥ ``z_min`` above
   baseline and stands ≥ 3 dB above the envelope background → outer race / inner race / ball;
2. impulsive, high-frequency growth (kurtosis, envelope kurtosis or the upper bands) without
   geometry → ``bearing`` (we do not guess which part);
3. shaft orders grew: the order that rose most names the fault: 1× → imbalance, 2× (or a 2×
   above 0.75 of 1×) → misalignment, 3× (at least 0.3 of 1×) → looseness. An order counts when
   its z-score reaches ``z_min``, or when the monitor found its running median grown to a warning
   (``grown``): on a machine whose 1× scatters from snapshot to snapshot (a slow gearbox) the
   median has grown threefold while one snapshot's z-score is still under ``z_min``, and that
   growth is what raised the warning;
4. broadband high-frequency energy rose while kurtosis did not → lubrication;
5. otherwise ``anomaly`` (the vector deviates, the pattern is not one we can name).

>>> z = {"bpfo_db": 6.0, "bpfi_db": 0.5, "bsf_db": 1.0, "kurtosis": 3.0}
>>> feats = {"bpfo_db": 9.0, "bpfi_db": 1.0, "bsf_db": 2.0}
>>> explain(feats, z, {"bpfo_db": (2.0, 1.0)}, has_geometry=True)[0]
'outer_race'
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from detectors.diagnosis import FAMILY_MODE

__all__ = ["explain"]


def _hf_keys(z: dict[str, float]) -> list[str]:
    return list(_hf_of(tuple(z)))


@lru_cache(maxsize=64)
def _hf_of(keys: tuple[str, ...]) -> tuple[str, ...]:
    """:func:`_hf_keys` of the names ``keys`` (a unit's features have the same names every snapshot)."""
    bands = sorted((k for k in keys if k.startswith("band_")), key=lambda k: float(k.split("_")[1]))
    return tuple(k for k in bands if float(k.split("_")[1]) >= 1000)


def explain(feats: dict[str, float], z: dict[str, float], baseline: dict[str, tuple[float, float]], *,
            has_geometry: bool, z_min: float = 4.0,
            grown: dict[int, float] | None = None) -> tuple[str, float, list[dict[str, Any]]]:
    """``(mode, confidence, evidence)`` for a unit whose features ``feats`` have z-scores ``z``;
    ``grown``: the shaft orders (1, 2, 3) whose running median grew to a warning, with its ratio
    to the order's baseline (rule 3).

    >>> noisy = {"v1x_mm_s": 2.7, "crest": 8.9}  # 1x's median grew 3x; one snapshot's crest jumped
    >>> explain({"v1x_mm_s": 3.5, "v2x_mm_s": 0.9, "v3x_mm_s": 0.3}, noisy, {}, has_geometry=True)[0]
    'bearing'
    >>> explain({"v1x_mm_s": 3.5, "v2x_mm_s": 0.9, "v3x_mm_s": 0.3}, noisy, {}, has_geometry=True, grown={1: 3.0})[0]
    'imbalance'
    """
    def ev(key: str, **extra: Any) -> dict[str, Any]:
        base = baseline.get(key, (float("nan"), float("nan")))[0]
        return {"feature": key, "value": round(feats.get(key, float("nan")), 4),
                "baseline": round(base, 4), "z": round(z.get(key, 0.0), 2), **extra}

    fams = {k: z[k] for k in ("bpfo_db", "bpfi_db", "bsf_db") if k in z}
    if has_geometry and fams:
        best = max(fams, key=fams.__getitem__)
        if fams[best] >= z_min and feats.get(best, 0.0) >= 3.0:
            others = sorted(fams.values())[-2] if len(fams) > 1 else 0.0
            conf = min(0.95, 0.5 + 0.08 * (fams[best] - max(others, 0.0)))
            fam = best[:-3]
            return FAMILY_MODE[fam], round(max(conf, 0.3), 3), [
                ev(best, meaning=f"{fam.upper()} family in the squared envelope spectrum, dB above background")]
    impulsive = [k for k in ("kurtosis", "env_kurtosis", "crest") if z.get(k, 0.0) >= z_min]
    hf = [k for k in _hf_keys(z) if z.get(k, 0.0) >= z_min]
    if impulsive and (hf or not has_geometry):
        keys = impulsive + hf
        conf = 0.6 if has_geometry else min(0.85, 0.5 + 0.05 * max(z[k] for k in keys))
        return "bearing", round(conf, 3), [ev(k) for k in keys]
    o1, o2, o3 = (z.get(f"v{o}x_mm_s", 0.0) for o in (1, 2, 3))
    if max(o1, o2, o3) >= z_min or grown:
        v1, v2 = feats.get("v1x_mm_s", 0.0), feats.get("v2x_mm_s", 0.0)
        keys = [k for k in ("v1x_mm_s", "v2x_mm_s", "v3x_mm_s") if k in z]
        v3 = feats.get("v3x_mm_s", 0.0)
        if max(o1, o2, o3) >= z_min:
            top = max((o1, 1), (o2, 2), (o3, 3))[1]  # the order that grew most over its baseline
        else:  # only running medians grew: the one grown most, by its ratio to its baseline
            top = max(grown, key=grown.__getitem__)  # type: ignore[arg-type]
            if f"v{top}x_mm_s" not in keys:
                keys.append(f"v{top}x_mm_s")
        if top == 3 and v3 > 0.3 * v1:
            return "looseness", round(min(0.85, 0.5 + 0.04 * (o3 - max(o1, o2))), 3), [ev(k) for k in keys]
        if top == 2 or (o2 >= z_min and v2 > 0.75 * v1):
            return "misalignment", round(min(0.9, 0.5 + 0.04 * (o2 - o1)), 3), [ev(k) for k in keys]
        return "imbalance", round(min(0.9, 0.5 + 0.04 * (o1 - max(o2, o3))), 3), [ev(k) for k in keys]
    if hf and z.get("kurtosis", 0.0) < z_min / 2:
        return "lubrication", 0.5, [ev(k) for k in hf] + [ev("kurtosis")]
    if hf or impulsive:
        return "bearing", 0.4, [ev(k) for k in hf + impulsive]
    largest = sorted(z, key=lambda k: -z[k])[:3]
    return "anomaly", 0.3, [ev(k) for k in largest]
