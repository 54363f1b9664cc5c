"""Hotelling's T² detector: what it learns from an incomplete warm-up."""

import json
import math

import numpy as np

from detectors.mahalanobis import Mahalanobis


def _warmup(missing_every: int, warmup: int = 40) -> Mahalanobis:
    """``b`` is NaN in every ``missing_every``-th warm-up vector (0: never)."""
    det = Mahalanobis(warmup=warmup)
    rng = np.random.default_rng(5)
    for i in range(warmup):
        b = math.nan if missing_every and i % missing_every == 0 else rng.normal()
        det.learn_one({"a": rng.normal(), "b": b, "c": rng.normal()})
    assert det.ready
    return det


def test_a_feature_missing_now_and_then_is_learnt_from_the_complete_vectors():
    det = _warmup(missing_every=5)
    assert det.keys == ["a", "b", "c"]
    assert det.n == 32  # the 8 vectors without ``b`` are left out, not the feature
    assert det.score_one({"a": 0.0, "b": 6.0, "c": 0.0}) > 4
    assert det.score_one({"a": 0.0, "b": 0.0, "c": 0.0}) < 1


def test_a_feature_missing_in_half_the_warmup_is_left_out_and_the_rest_still_count():
    det = _warmup(missing_every=2)
    assert det.keys == ["a", "c"] and det.n == 40
    assert det.score_one({"a": 0.0, "b": 6.0, "c": 0.0}) < 1  # no baseline for ``b``
    assert det.score_one({"a": 6.0, "b": 0.0, "c": 0.0}) > 4


def test_too_few_complete_vectors_for_the_features_drops_the_most_incomplete_first():
    det = Mahalanobis(warmup=8)
    rng = np.random.default_rng(6)
    for i in range(8):  # ``b`` missing in 3 of 8: with it only 5 complete rows for 3 features
        det.learn_one({"a": rng.normal(), "b": math.nan if i < 3 else rng.normal(), "c": rng.normal()})
    assert det.keys == ["a", "c"] and det.n == 8


def test_a_complete_warmup_gives_the_same_baseline_as_before():
    """Valid input is untouched: all vectors and all features, mean and covariance as numpy's."""
    det = Mahalanobis(warmup=40, ridge=0.0)
    rng = np.random.default_rng(7)
    rows = rng.normal(size=(40, 3))
    for r in rows:
        det.learn_one(dict(zip("abc", r)))
    assert det.keys == ["a", "b", "c"] and det.n == 40
    assert np.allclose(det.mean, rows.mean(axis=0))
    assert np.allclose(det.inv_cov, np.linalg.inv(np.cov(rows, rowvar=False)))


def test_a_long_warmup_keeps_at_most_max_rows_vectors_evenly_spread():
    det = Mahalanobis(warmup=640, max_rows=64)
    for i in range(639):
        det.learn_one({"a": float(i), "b": float(i % 7)})
    assert not det.ready and len(det._rows) == 64  # every 10th: vectors 0, 10, ..., 630
    assert [r[0] for r in det._rows[:3]] == [0.0, 10.0, 20.0] and det._rows[-1][0] == 630.0
    det.learn_one({"a": 639.0, "b": 2.0})
    assert det.ready and det.n == 64
    assert det.mean[0] == 315.0  # the mean of the vectors kept, from the whole commissioning


def test_a_state_saved_before_vectors_were_counted_restores_as_it_was():
    det = Mahalanobis(warmup=10)
    for i in range(6):
        det.learn_one({"a": float(i), "b": float(i * i)})
    old = det.state_dict()
    del old["n_seen"], old["max_rows"]
    back = Mahalanobis.from_state(old)
    for i in range(6, 10):
        back.learn_one({"a": float(i), "b": float(i * i)})
        det.learn_one({"a": float(i), "b": float(i * i)})
    assert back.ready and back.n == det.n == 10
    assert back.score_one({"a": 3.0, "b": 40.0}) == det.score_one({"a": 3.0, "b": 40.0})


def test_the_robust_baseline_of_a_long_commissioning_is_spread_over_all_of_it():
    from detectors.zscore import RobustZScore

    det = RobustZScore(warmup=640, max_points=64)
    for i in range(640):
        det.learn_one({"a": float(i)})
    assert det.ready
    assert det.baseline["a"][0] == 315.0  # the median of 0, 10, ..., 630: early and late snapshots alike
    state = RobustZScore.from_state(json.loads(json.dumps(det.state_dict())))
    assert state.baseline == det.baseline and state.stride == 10
    short = RobustZScore(warmup=30, max_points=64)  # a commissioning shorter than max_points keeps all
    assert short.stride == 1
    early = RobustZScore(warmup=640, max_points=64)
    for i in range(41):  # 41 snapshots, 5 of them kept: enough to fix the baseline early
        early.learn_one({"a": float(i)})
    assert early.finalize() and early.baseline["a"][0] == 20.0
