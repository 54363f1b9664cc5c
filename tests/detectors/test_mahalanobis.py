"""Hotelling's T² detector: what it learns from an incomplete warm-up."""

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
