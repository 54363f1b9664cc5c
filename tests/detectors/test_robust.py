"""The hot-path reductions: medians give exactly numpy's numbers (odd and even lengths, ties, one
column); the dot product matches numpy's on both sides of the BLAS threading threshold."""

import numpy as np
import pytest

from detectors.robust import dot, median, row_medians


@pytest.mark.parametrize("shape", [(1, 1), (1, 2), (64, 16), (63, 17), (5, 20), (3, 640), (2, 641)])
def test_row_medians_equal_numpy(shape):
    rng = np.random.default_rng(sum(shape))
    a = rng.normal(size=shape)
    a[:, : shape[1] // 3] = np.round(a[:, : shape[1] // 3], 1)  # ties
    assert np.array_equal(row_medians(a), np.median(a, axis=1))


@pytest.mark.parametrize("n", [1, 2, 3, 640, 641])
def test_median_equals_numpy(n):
    a = np.random.default_rng(n).exponential(size=n)
    assert median(a) == float(np.median(a))


def test_row_medians_leaves_input_alone():
    a = np.array([[3.0, 1.0, 2.0]])
    row_medians(a)
    assert a.tolist() == [[3.0, 1.0, 2.0]]


@pytest.mark.parametrize("n", [1, 2560, 8192, 8193, 16384, 65536])
def test_dot_equals_numpy_on_both_sides_of_the_blas_threshold(n):
    rng = np.random.default_rng(n)
    a, b = rng.normal(size=n), rng.normal(size=n)
    assert dot(a, b) == pytest.approx(float(np.dot(a, b)), rel=1e-12, abs=1e-12)
    assert isinstance(dot(a, b), float)


def test_time_features_of_a_long_snapshot_are_unchanged_by_the_non_blas_dot():
    from detectors.features import time_features

    x = np.random.default_rng(0).normal(0, 0.3, 16384) + 0.1
    f = time_features(x)
    c = x - x.mean()
    assert f["rms_g"] == pytest.approx(float(np.sqrt(np.mean(x * x))), rel=1e-12)
    assert f["kurtosis"] == pytest.approx(float(np.mean(c**4) / np.mean(c**2) ** 2), rel=1e-12)
    assert f["skewness"] == pytest.approx(float(np.mean(c**3) / np.mean(c**2) ** 1.5), rel=1e-9)
