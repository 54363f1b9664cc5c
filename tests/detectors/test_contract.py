"""One contract for every detector (river-style): register a factory here, get all the checks.

Each detector follows river's anomaly protocol (``learn_one(x)``, ``score_one(x)``, higher =
more anomalous). Ours also validate their hyperparameters and round-trip their state through
JSON; river's HalfSpaceTrees is registered too, to show the protocols are interchangeable.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from river.anomaly import HalfSpaceTrees

from detectors.iso import IsoZoneDetector
from detectors.mahalanobis import Mahalanobis
from detectors.pagehinkley import PageHinkley
from detectors.zscore import RobustZScore


class _Scaled:
    """river's HST wants features in [0, 1]: the usual MinMax front, fixed here."""

    def __init__(self) -> None:
        self.hst = HalfSpaceTrees(n_trees=10, height=6, window_size=25, seed=7)

    def learn_one(self, x: dict[str, float]) -> None:
        self.hst.learn_one({k: (v + 3) / 12 for k, v in x.items()})

    def score_one(self, x: dict[str, float]) -> float:
        return self.hst.score_one({k: (v + 3) / 12 for k, v in x.items()})


# name -> (factory, bad hyperparameters or None, serialisable)
DETECTORS: dict[str, tuple[Callable[[], Any], dict | None, bool]] = {
    "robust_z": (lambda: RobustZScore(warmup=40), {"warmup": 2}, True),
    "mahalanobis": (lambda: Mahalanobis(warmup=40), {"warmup": 3}, True),
    "page_hinkley": (lambda: PageHinkley(delta=0.5, threshold=5.0, mean=0.0), {"delta": -1.0}, True),
    "iso_zone": (lambda: IsoZoneDetector(), {"hysteresis": 0.9}, True),
    "river_hst": (_Scaled, None, False),
}
CLASSES = {"robust_z": RobustZScore, "mahalanobis": Mahalanobis, "page_hinkley": PageHinkley,
           "iso_zone": IsoZoneDetector}


def _normal(rng: np.random.Generator) -> dict[str, float]:
    return {"velocity_rms_mm_s": 1.0 + 0.1 * rng.normal(), "kurtosis": 3.0 + 0.2 * rng.normal()}


def _trained(name: str) -> Any:
    det = DETECTORS[name][0]()
    rng = np.random.default_rng(0)
    for _ in range(60):
        det.learn_one(_normal(rng))
    return det


@pytest.mark.parametrize("name", DETECTORS)
def test_scores_are_finite_floats(name: str) -> None:
    det = _trained(name)
    rng = np.random.default_rng(1)
    for _ in range(10):
        s = det.score_one(_normal(rng))
        assert isinstance(s, float) and math.isfinite(s)


@pytest.mark.parametrize("name", DETECTORS)
def test_anomaly_scores_higher_than_normal(name: str) -> None:
    det = _trained(name)
    rng = np.random.default_rng(2)
    normal = float(np.median([det.score_one(_normal(rng)) for _ in range(20)]))
    if name == "page_hinkley":  # a drift detector must see the shift for a while
        for _ in range(10):
            det.learn_one({"z": 4.0})
    anomalous = det.score_one({"velocity_rms_mm_s": 8.0, "kurtosis": 9.0})
    assert anomalous > normal


@pytest.mark.parametrize("name", DETECTORS)
def test_unknown_and_missing_keys_do_not_raise(name: str) -> None:
    det = _trained(name)
    assert math.isfinite(det.score_one({"something_else": 1.0}))
    assert math.isfinite(det.score_one({}))


@pytest.mark.parametrize("name", [n for n in DETECTORS if n != "river_hst"])
@pytest.mark.parametrize("bad", [None, "a", float("nan"), float("inf"), True, [1.0]])
def test_a_value_that_is_not_a_finite_number_is_missing_not_an_error(name: str, bad: Any) -> None:
    """Learnt or scored, such a value neither raises nor gives a score that is not a finite float,
    and the detector still tells anomalous input from normal afterwards, also an anomaly of the
    very feature that was missing now and then while it learnt (it is not dropped for that)."""
    det = DETECTORS[name][0]()
    rng = np.random.default_rng(0)
    for i in range(60):
        det.learn_one(_normal(rng))
        if i % 10 == 5:
            det.learn_one({"velocity_rms_mm_s": bad, "kurtosis": 3.0})
            s = det.score_one({"velocity_rms_mm_s": bad, "kurtosis": 3.0})
            assert isinstance(s, float) and math.isfinite(s)
    normal, anomalous = _normal(np.random.default_rng(3)), {"velocity_rms_mm_s": 8.0, "kurtosis": 9.0}
    if name != "page_hinkley":  # a drift detector scores the drift it has learnt, not the input
        assert det.score_one(anomalous) > det.score_one(normal)
        assert det.score_one({**normal, "velocity_rms_mm_s": 8.0}) > det.score_one(normal)
    for x in (normal, anomalous):
        assert math.isfinite(det.score_one({**x, "kurtosis": bad}))


@pytest.mark.parametrize("name", [n for n, v in DETECTORS.items() if v[1] is not None])
def test_bad_hyperparameters_raise_a_named_error(name: str) -> None:
    bad = DETECTORS[name][1]
    with pytest.raises(ValueError, match=next(iter(bad))):
        CLASSES[name](**bad)


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(("cls", "bad", "says"), [
    (RobustZScore, {"warmup": 5.5}, "warmup must be a whole number, got 5.5"),
    (RobustZScore, {"warmup": True}, "warmup must be a whole number"),
    (RobustZScore, {"min_scale": NAN}, "min_scale must be a finite number"),
    (RobustZScore, {"min_abs_scale": INF}, "min_abs_scale must be a finite number"),
    (RobustZScore, {"max_points": 2}, "max_points must be at least 5"),
    (Mahalanobis, {"warmup": 30.5}, "warmup must be a whole number"),
    (Mahalanobis, {"warmup": "30"}, "warmup must be a whole number"),
    (Mahalanobis, {"ridge": NAN}, "ridge must be a finite number"),
    (PageHinkley, {"delta": NAN}, "delta must be a finite number"),
    (PageHinkley, {"threshold": INF}, "threshold must be a finite number"),
    (PageHinkley, {"mean": NAN}, "mean must be a finite number"),
    (IsoZoneDetector, {"hysteresis": NAN}, "hysteresis must be a finite number"),
])
def test_a_hyperparameter_that_is_not_a_number_of_its_kind_is_named(cls: type, bad: dict, says: str) -> None:
    """Used from Python, a fraction where a count is meant or a NaN threshold was taken: NaN compares
    false with every bound, so ``warmup=5.5`` or ``delta=nan`` passed the range checks."""
    with pytest.raises(ValueError, match=re.escape(says)):
        cls(**bad)


@pytest.mark.parametrize("name", [n for n, v in DETECTORS.items() if v[2]])
def test_state_round_trips_through_json(name: str) -> None:
    det = _trained(name)
    state = json.loads(json.dumps(det.state_dict()))
    clone = CLASSES[name].from_state(state)
    probe = {"velocity_rms_mm_s": 1.7, "kurtosis": 3.4}
    assert clone.score_one(probe) == pytest.approx(det.score_one(probe))
    assert len(json.dumps(state)) < 64 * 1024
