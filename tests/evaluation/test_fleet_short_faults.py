"""The fleet summary's "warned >=24 h before" share of faults that lasted less than 24 h from onset to
failure: "0%" read as a detector that missed them, though no warning could be 24 h ahead of them.

Found with a 12-hour fleet (faults of 8 and 10 h, warned 4.5 and 8.8 h ahead): the summary said
"warned >=24 h before: 0%" for both kinds and nothing else; the lead times were only in the runs' rows.
"""

from __future__ import annotations

from evaluation.fleet import summarise
from evaluation.report import render

H = 3600.0


def _run(name: str, onset_h: float, failure_h: float, warned_h: float | None, kind: str = "ball") -> dict:
    return {"name": name, "true_fault": kind, "onset_t": onset_h * H, "failure_t": failure_h * H,
            "first_warning_t": None if warned_h is None else warned_h * H,
            "warning_times": [] if warned_h is None else [warned_h * H], "diagnosed_fault": kind,
            "duration_s": failure_h * H}


def test_faults_shorter_than_the_lead_and_the_median_lead_are_given():
    runs = [_run("a", 1, 11, 2.2), _run("b", 0, 30, 3), _run("c", 2, 40, 20), _run("d", 1, 9, None)]
    s = summarise(runs)
    ball = s["per_fault"]["ball"]
    assert ball["failed"] == 4 and ball["warned_24h"] == 1 and ball["warned_24h_share"] == 0.25
    assert ball["shorter_than_lead"] == 2  # a (10 h) and d (8 h): no warning could be 24 h ahead
    assert ball["median_lead_s"] == 20 * H  # of the warned: 8.8 h, 27 h, 20 h
    text = render({"fleet": {"f": s}})
    assert ("  ball          units   4  failed   4  warned >=24 h before: 25% (2 of the 4 failed within 24 h of "
            "their onset); median lead 20.0 h") in text, text


def test_a_fleet_of_long_faults_reads_as_before():
    s = summarise([_run("a", 0, 48, 10, "outer_race")])
    assert s["per_fault"]["outer_race"]["shorter_than_lead"] == 0
    assert "warned >=24 h before: 100%; median lead 38.0 h" in render({"fleet": {"f": s}})


def test_healthy_time_with_no_snapshot_at_all_is_not_counted_as_assessed():
    """A unit whose fault began before its first snapshot was taken (silent, or stopped, until then) had its
    whole pre-onset time counted as healthy unit-days that nothing had looked at."""
    run = {**_run("a", 10, 40, 20), "healthy_observations": 0, "healthy_unassessed": 0}
    s = summarise([run])
    assert s["healthy_unit_days"] == 0.0 and s["unassessed_healthy_unit_days"] == round(10 / 24, 3)
