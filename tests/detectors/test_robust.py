"""The hot-path medians give exactly numpy's numbers (odd and even lengths, ties, one column)."""

import numpy as np
import pytest

from detectors.robust import median, row_medians


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
