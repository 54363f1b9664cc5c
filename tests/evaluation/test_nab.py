"""The NAB scorer against hand-computed cases (NAB v1.1 sweeper semantics)."""

from __future__ import annotations

import math

import pytest

from evaluation.nab import (
    PROFILES,
    Series,
    probationary_length,
    scaled_sigmoid,
    score_by_threshold,
    score_corpus,
)

N = 100
WINDOW = (40, 49)  # rows; timestamps are the row numbers. Probationary period: 15 rows.
MAX_TP = 2 / (1 + math.exp(-5)) - 1  # scaled sigmoid at the window's first row


def one(detections: set[int], windows=(WINDOW,), n: int = N) -> Series:
    return Series(list(range(n)), [1.0 if i in detections else 0.0 for i in range(n)], list(windows))


def standard(corpus: dict[str, Series]) -> float:
    return score_corpus(corpus, {"standard": PROFILES["standard"]})["standard"].score


def test_scaled_sigmoid_values() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(0.9866142981514305)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(1.0) == pytest.approx(-0.9866142981514305)
    assert scaled_sigmoid(3.0001) == -1.0


def test_probationary_length() -> None:
    assert probationary_length(100) == 15
    assert probationary_length(4032) == 604
    assert probationary_length(22695) == 750


def test_null_scores_zero_and_perfect_scores_hundred_in_every_profile() -> None:
    null = score_corpus({"a": one(set()), "b": one(set(), windows=[(20, 29), (70, 79)])})
    perfect = score_corpus({"a": one({40}), "b": one({20, 70}, windows=[(20, 29), (70, 79)])})
    for name in PROFILES:
        assert null[name].score == 0.0
        assert perfect[name].score == 100.0
        assert perfect[name].fp == 0 and perfect[name].fn == 0


def test_detection_at_the_last_row_of_a_window() -> None:
    # position -(49 - 49 + 1) / 10 = -0.1 -> 2 / (1 + e^-0.5) - 1 = 0.244919, / MAX_TP = 0.248242
    tp = (2 / (1 + math.exp(-0.5)) - 1) / MAX_TP
    assert tp == pytest.approx(0.24824154977542992)
    assert standard({"a": one({49})}) == pytest.approx(100 * (tp + 1) / 2)


def test_only_the_first_detection_in_a_window_counts_and_late_fp_is_weighted() -> None:
    # detection at row 45: -(49 - 45 + 1) / 10 = -0.5 -> 0.859793; later detections in the window add nothing
    # FP at row 60: (60 - 49) / (10 - 1) past the window -> scaled sigmoid -0.995574, times 0.11
    tp = 0.8597925669097837
    fp = -0.10951310130369775
    assert standard({"a": one({45, 46, 48, 60})}) == pytest.approx(100 * (tp + fp + 1) / 2)
    res = score_corpus({"a": one({45, 46, 48, 60})})
    assert res["reward_low_fp"].raw == pytest.approx(tp + 2 * fp)
    # reward low FN: null is -2 per window, perfect +1
    assert res["reward_low_fn"].score == pytest.approx(100 * (tp + fp + 2) / 3)


def test_fp_before_the_first_window_costs_the_full_weight_and_probation_is_free() -> None:
    # row 20: no preceding window -> -1 * 0.11; row 10 is in the probationary period (15 rows)
    res = score_corpus({"a": one({10, 20, 40})})["standard"]
    assert res.raw == pytest.approx(1.0 - 0.11)
    assert res.fp == 1


def test_threshold_is_optimised_globally_not_per_series() -> None:
    # series a alerts at 0.9 on its window; b has a 0.95 false positive: a threshold of 0.9 catches a's
    # window and b's FP, 0.95 only the FP, 1.1 nothing. Best: 0.9 with 1 - 0.11 - 1 (b's missed window).
    a = Series(list(range(N)), [0.9 if i == 40 else 0.0 for i in range(N)], [WINDOW])
    b = Series(list(range(N)), [0.95 if i == 20 else 0.0 for i in range(N)], [(60, 69)])
    res = score_corpus({"a": a, "b": b}, {"standard": PROFILES["standard"]})["standard"]
    assert res.threshold == 0.9
    assert res.raw == pytest.approx(1.0 - 0.11 - 1.0)
    assert res.per_series["a"] == pytest.approx(1.0)
    assert res.per_series["b"] == pytest.approx(-1.11)
    assert res.score == pytest.approx(100 * (res.raw + 2) / 4)


def test_score_by_threshold_lists_every_distinct_threshold() -> None:
    points = [(0.5, 1.0, "w"), (0.5, -0.11, None), (0.2, -0.11, None)]
    rows = score_by_threshold(points, PROFILES["standard"])
    assert [r[0] for r in rows] == [1.1, 0.5, 0.2]
    assert rows[0][1] == pytest.approx(-1.0)
    assert rows[1][1] == pytest.approx(1.0 - 0.11)
    assert rows[2][1] == pytest.approx(1.0 - 0.22)


def test_windows_are_matched_by_timestamp_between_rows() -> None:
    # windows given by timestamps that fall between rows cover the rows inside them
    s = Series([float(i) for i in range(N)], [1.0 if i == 40 else 0.0 for i in range(N)], [(39.5, 49.5)])
    assert standard({"a": s}) == 100.0


def test_bad_input_is_refused_with_the_problem_named() -> None:
    with pytest.raises(ValueError, match="3 timestamps but 2 scores"):
        Series([1, 2, 3], [0.0, 0.0], [])
    with pytest.raises(ValueError, match="holds no row"):
        score_corpus({"a": Series(list(range(10)), [0.0] * 10, [(20, 30)])})
    with pytest.raises(ValueError, match="overlap"):
        score_corpus({"a": Series(list(range(100)), [0.0] * 100, [(20, 30), (25, 35)])})
