"""The fleet summary says how good the time to failure was that each failed unit's first warning carried:
the estimate over the time actually left, and whether its range held that time. Before, only the runs'
rows held the estimate, without its range, and no figure of the fleet said whether the first tickets'
"time left" could be planned on (the validation fleet's were 2.2 x the time left in median)."""

from __future__ import annotations

from evaluation.fleet import summarise
from evaluation.report import render

H = 3600.0


def _run(name: str, warned_h: float | None, failure_h: float | None, ttf_h: float | None,
         low_h: float | None = None, high_h: float | None = None) -> dict:
    return {"name": name, "true_fault": "outer_race", "onset_t": 1 * H, "failure_t": None if failure_h is None else failure_h * H,
            "first_warning_t": None if warned_h is None else warned_h * H,
            "warning_times": [] if warned_h is None else [warned_h * H], "diagnosed_fault": "outer_race",
            "duration_s": 100 * H, "ttf_at_first_warning_s": None if ttf_h is None else ttf_h * H,
            "ttf_low_at_first_warning_s": None if low_h is None else low_h * H,
            "ttf_high_at_first_warning_s": None if high_h is None else high_h * H}


def test_the_first_warnings_estimates_are_judged_against_the_time_left():
    runs = [_run("a", 10, 50, 40, 20, 80),    # 40 h left: ratio 1.0, held
            _run("b", 10, 30, 60, 45, 90),    # 20 h left: ratio 3.0, not held (too late)
            _run("c", 10, 90, 40, 30, 200),   # 80 h left: ratio 0.5, held
            _run("d", 10, 50, None),          # warned without an estimate: not counted
            _run("e", None, 50, None),        # never warned: not counted
            _run("f", 10, None, 30, 10, 50)]  # did not fail: no time left to judge
    t = summarise(runs)["ttf_at_first_warning"]
    assert t == {"units": 3, "median_ratio": 1.0, "within_half_to_double": round(2 / 3, 3), "range_held": round(2 / 3, 3)}
    text = render({"fleet": {"f": summarise(runs)}})
    assert ("  time to failure at the first warning (3 units): median 1.00 x the time left to the failure, "
            "67% within half to double, the range held it for 67%") in text, text


def test_a_fleet_without_an_estimate_at_a_first_warning_says_nothing_of_it():
    s = summarise([_run("d", 10, 50, None), _run("e", None, 50, None)])
    assert s["ttf_at_first_warning"] == {"units": 0, "median_ratio": None, "within_half_to_double": None, "range_held": None}
    assert "time to failure at the first warning" not in render({"fleet": {"f": s}})
