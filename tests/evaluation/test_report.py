"""The readable report says when a figure cannot be computed instead of printing Python's None."""

from __future__ import annotations

from evaluation.report import render


def test_a_fleet_with_no_warned_fault_says_so_instead_of_none():
    fleet = {"units": 2, "per_fault": {"none": {"units": 1, "failed": 0}, "outer_race": {"units": 1, "failed": 0}},
             "false_warnings": 0, "healthy_unit_days": 0.0, "false_warnings_per_unit_day": None,
             "diagnosis_accuracy": None}
    text = render({"records": [], "runs": [], "fleet": {"runs/": fleet}})
    assert "None" not in text
    assert "false warnings per unit-day: - (no healthy time); diagnosis accuracy: - (no faulty unit was warned)" in text
    fleet.update(false_warnings_per_unit_day=0.0, diagnosis_accuracy=1.0)
    assert "false warnings per unit-day: 0.0; diagnosis accuracy: 1.0" in render(
        {"records": [], "runs": [], "fleet": {"runs/": fleet}})


def test_nab_scores_of_a_subset_are_not_set_beside_the_published_corpus_scores():
    nab = {"standard": 93.0, "reward_low_fp": 93.0, "reward_low_fn": 95.4}
    one = render({"nab": nab, "nab_detail": {"series": 1, "windows": 1}, "records": [], "runs": [], "fleet": {}})
    assert "published" not in one.replace("published scores are over all 58 series", "")
    assert "a subset: published scores are over all 58 series" in one
    whole = render({"nab": nab, "nab_detail": {"series": 58, "windows": 116}, "records": [], "runs": [], "fleet": {}})
    assert "(published: ARTime 74.9" in whole and "subset" not in whole


def test_a_record_where_no_fault_was_named_shows_the_votes_not_a_confidence_of_one():
    rec = {"name": "B007", "true_fault": "ball", "diagnosed_fault": "none", "confidence": 1.0, "snapshots": 4,
           "votes": {"none": 3, "ball": 1}}
    text = render({"records": [rec], "record_accuracy": {"ball": 0.0, "all": 0.0}, "runs": [], "fleet": {}})
    assert "wrong: B007: true ball, diagnosed none (no fault named in 3 of 4 snapshots)" in text
    assert "confidence 1.00" not in text
    rec.update(diagnosed_fault="inner_race", confidence=0.61, votes={"inner_race": 4})
    assert "diagnosed inner_race (confidence 0.61)" in render({"records": [rec], "runs": [], "fleet": {}})


def _run(name: str, failure_t: float | None, duration_s: float, **more) -> dict:
    return {"name": name, "failure_t": failure_t, "first_warning_t": None, "lead_time_s": None, "false_warnings": 0,
            "rul_estimate_s": None, "diagnosed_fault": None, "duration_s": duration_s, **more}


def test_a_run_whose_data_end_long_before_its_failure_is_flagged_not_shown_as_a_plain_miss():
    """A CSV cut after 17 h of a 163.8 h run to failure (or a failure stamp after the recording) read as
    a missed warning, with nothing said."""
    runs = [_run("cut", 163.8 * 3600, 17.0 * 3600), _run("stopped_early", 40 * 3600, 36 * 3600),
            _run("whole", 5140.0, 5140.0), _run("survived", None, 5140.0),
            _run("phm_cut", 28020.0, 10000.0, truncated_at_t=10000.0, phm2012_score=0.2)]
    text = render({"records": [], "runs": runs, "fleet": {}})
    assert ("cut: the data end at 17.0 h, long before its failure at 163.8 h: a truncated file, or a failure event "
            "after the recording") in text
    for name in ("stopped_early", "whole", "survived", "phm_cut"):
        assert f"{name}: the data end" not in text


def test_the_runs_table_gives_every_time_in_one_unit():
    """FEMTO's Bearing1_1 read 'failure 7.8 h, warned 5.4 h, lead 8550 s, RUL est 0 s': hours and seconds
    mixed in one row and one column. Every time of the table is now h:mm:ss."""
    run = {**_run("femto_Bearing1_1", 28020.0, 28020.0), "first_warning_t": 19470.0, "lead_time_s": 8550.0,
           "rul_estimate_s": 0.0, "false_warnings": 0, "diagnosed_fault": "bearing"}
    short = {**_run("femto_Bearing1_2", 8700.0, 8700.0), "first_warning_t": 8300.0, "lead_time_s": 400.0,
             "rul_estimate_s": 209.4, "false_warnings": 0, "diagnosed_fault": "bearing"}
    text = render({"records": [], "runs": [run, short], "fleet": {}})
    assert "h:mm:ss" in text
    line = next(x for x in text.splitlines() if "femto_Bearing1_1" in x)
    assert line.split()[1:6] == ["7:47:00", "5:24:30", "2:22:30", "0", "0:00:00"], line
    line = next(x for x in text.splitlines() if "femto_Bearing1_2" in x)
    assert line.split()[1:6] == ["2:25:00", "2:18:20", "0:06:40", "0", "0:03:29"], line
