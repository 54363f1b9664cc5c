"""``foreshock evaluate --scalar-detector`` (your own detector on NAB) and ``--monitor-config`` (other
engine settings on runs): they are really used, and bad ones are refused with the reason."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from detectors.config import MonitorConfig
from evaluation.options import OptionError, Options
from foreshock.cli import main
from tests.evaluation.test_harness import DATA, evaluate, nab_slice, needs_data  # noqa: F401 - the fixture

USER_DETECTORS = textwrap.dedent('''
    class Constant:
        """The same score for every row: no threshold separates anything, so NAB gives it 0."""
        def score_one(self, x):
            return 0.5
        def learn_one(self, x):
            pass

    class Deviation:
        """How far a value is from the running mean, in running standard deviations (capped)."""
        def __init__(self):
            self.n, self.mean, self.m2 = 0, 0.0, 0.0
        def score_one(self, x):
            if self.n < 2:
                return 0.0
            sd = (self.m2 / (self.n - 1)) ** 0.5 or 1.0
            return min(abs(x["value"] - self.mean) / sd / 10, 1.0)
        def learn_one(self, x):
            self.n += 1
            d = x["value"] - self.mean
            self.mean += d / self.n
            self.m2 += d * (x["value"] - self.mean)

    class Words:
        def score_one(self, x):
            return "high"
        def learn_one(self, x):
            pass

    class Crashes:
        def __init__(self):
            self.n = 0
        def score_one(self, x):
            self.n += 1
            if self.n == 7:
                raise ZeroDivisionError("division by zero")
            return 0.0
        def learn_one(self, x):
            pass

    def make_deviation():
        return Deviation()

    class Exits:
        """Gives up the way a script does: sys.exit (SystemExit) on its fifth row."""
        def __init__(self):
            self.n = 0
        def score_one(self, x):
            self.n += 1
            if self.n == 5:
                raise SystemExit(3)
            return 0.0
        def learn_one(self, x):
            pass

    class ExitsWhenBuilt:
        def __init__(self):
            raise SystemExit("no licence")

    class YesNo:
        def score_one(self, x):
            return True
        def learn_one(self, x):
            pass

    class Huge:
        def score_one(self, x):
            return 10 ** 400
        def learn_one(self, x):
            pass
''')


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_detectors.py"
    path.write_text(USER_DETECTORS)
    return path


def _nab(capsys, nab_slice: Path, tmp_path: Path, *extra: str) -> dict:
    out_json = tmp_path / f"r{len(list(tmp_path.glob('r*.json')))}.json"
    code, _, err = evaluate(capsys, str(nab_slice), "--json", str(out_json), *extra)
    assert code == 0, err
    return json.loads(out_json.read_text())


@needs_data
def test_a_users_detector_scores_the_nab_series_in_place_of_ours(capsys, nab_slice: Path, tmp_path: Path,
                                                                 user_file: Path) -> None:
    ours = _nab(capsys, nab_slice, tmp_path)
    constant = _nab(capsys, nab_slice, tmp_path, "--scalar-detector", f"{user_file}:Constant")
    # a constant score cannot be thresholded into detections: exactly the null detector's 0
    assert constant["nab"] == {"standard": 0.0, "reward_low_fp": 0.0, "reward_low_fn": 0.0}
    assert constant["nab_detail"]["detector"] == f"{user_file}:Constant"
    assert ours["nab"]["standard"] > 0
    # a factory function works as well as a class, and its scores are its own
    deviation = _nab(capsys, nab_slice, tmp_path, "--scalar-detector", f"{user_file}:make_deviation")
    assert deviation["nab"] != ours["nab"] and deviation["nab"] != constant["nab"]
    # the readable report names the detector
    code, out, _ = evaluate(capsys, str(nab_slice), "--scalar-detector", f"{user_file}:Constant", "--quiet")
    assert code == 0 and f"detector: {user_file}:Constant" in out


@needs_data
def test_a_river_detector_by_module_name(capsys, nab_slice: Path, tmp_path: Path) -> None:
    report = _nab(capsys, nab_slice, tmp_path, "--scalar-detector", "river.anomaly:HalfSpaceTrees")
    assert report["nab_detail"]["detector"] == "river.anomaly:HalfSpaceTrees"
    assert all(-100 <= v <= 100 for v in report["nab"].values())


@pytest.mark.parametrize(("spec", "message"), [
    ("no_such_module_x:Thing", "cannot import no_such_module_x"),
    ("math:nothing", "math has no 'nothing'"),
    ("math:pi", "math:pi is a float, not a class or function"),
    ("json:JSONDecoder", "without score_one and learn_one"),
    ("Deviation", "expected MODULE:NAME or FILE.py:NAME"),
    ("{dir}/missing.py:Deviation", "no such file"),
])
def test_a_detector_that_cannot_be_used_is_refused_before_any_file_is_read(capsys, tmp_path: Path, spec: str,
                                                                          message: str) -> None:
    # the path does not even exist: the option is refused first
    code, _, err = evaluate(capsys, str(tmp_path / "nowhere"), "--scalar-detector", spec.format(dir=tmp_path))
    assert code == 2 and message in err and "Traceback" not in err


@needs_data
@pytest.mark.parametrize(("name", "message"), [
    ("Words", "Words returned 'high' for row 1 of "),
    ("Crashes", "Crashes raised ZeroDivisionError: division by zero at row 7 of "),
])
def test_a_detector_failing_on_a_row_names_itself_the_file_and_the_row(capsys, nab_slice: Path, user_file: Path,
                                                                       name: str, message: str) -> None:
    code, _, err = evaluate(capsys, str(nab_slice), "--scalar-detector", f"{user_file}:{name}")
    assert code == 2 and message in err and ".csv" in err and "Traceback" not in err


@needs_data
@pytest.mark.parametrize(("name", "message"), [
    ("Exits", "Exits raised SystemExit: 3 at row 5 of "),
    ("YesNo", "YesNo returned True for row 1 of "),
    ("Huge", "Huge returned a number too large for a float for row 1 of "),
])
def test_a_detector_that_exits_or_gives_no_usable_score_is_named(capsys, nab_slice: Path, user_file: Path,
                                                                 name: str, message: str) -> None:
    # SystemExit used to end the command silently with the detector's exit code, a yes/no was taken
    # as a score, and an int beyond a float's range gave an OverflowError traceback
    code, _, err = evaluate(capsys, str(nab_slice), "--scalar-detector", f"{user_file}:{name}")
    assert code == 2 and message in err and ".csv" in err and "Traceback" not in err


@needs_data
@pytest.mark.timeout(120)
def test_a_detector_exiting_in_a_worker_process_does_not_hang_the_evaluation(capsys, nab_slice: Path,
                                                                             user_file: Path) -> None:
    # a worker that died of SystemExit lost its task: the pool waited for it forever
    code = main(["evaluate", str(nab_slice), "--scalar-detector", f"{user_file}:Exits", "--jobs", "2", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "Exits raised SystemExit: 3 at row 5 of " in err


def test_a_worker_process_that_dies_is_named_not_waited_for(capsys, nab_slice: Path, tmp_path: Path) -> None:
    """A detector that ends its process outright (os._exit, a crash in native code) cannot be caught in
    the worker: the pool replaced the worker and waited for ever for the dataset it held."""
    dies = tmp_path / "dies.py"
    dies.write_text("import os\n\n\nclass Dies:\n    def score_one(self, x):\n        os._exit(7)\n\n"
                    "    def learn_one(self, x):\n        pass\n")
    code = main(["evaluate", str(nab_slice), "--scalar-detector", f"{dies}:Dies", "--jobs", "2", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "a worker process ended while evaluating one of " in err and "--jobs 1" in err, err


def test_a_detector_exiting_when_built_or_imported_is_refused(capsys, tmp_path: Path, user_file: Path) -> None:
    code, _, err = evaluate(capsys, str(tmp_path), "--scalar-detector", f"{user_file}:ExitsWhenBuilt")
    assert code == 2 and "ExitsWhenBuilt() failed: SystemExit: no licence" in err
    exits = tmp_path / "exits_on_import.py"
    exits.write_text("import sys\nsys.exit(4)\n")
    code, _, err = evaluate(capsys, str(tmp_path), "--scalar-detector", f"{exits}:Anything")
    assert code == 2 and "exits_on_import.py failed to load: SystemExit: 4" in err


@needs_data
def test_engine_settings_are_applied_to_runs_and_reported(capsys, tmp_path: Path) -> None:
    ims = str(DATA / "ims" / "test2" / "bearing1.csv")

    def rul(*extra: str) -> tuple[dict, float]:
        out_json = tmp_path / "ims.json"
        code, _, err = evaluate(capsys, ims, "--json", str(out_json), *extra)
        assert code == 0, err
        report = json.loads(out_json.read_text())
        return report, report["runs"][0]["rul_estimate_s"]

    default_report, default_rul = rul()
    assert "monitor_config" not in default_report
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"alarm_ratio": 20}))
    report, far_rul = rul("--monitor-config", str(settings))
    assert report["monitor_config"] == {"alarm_ratio": 20}
    # the alarm limit is twice as far above the baseline: the time to reach it is longer
    assert far_rul > default_rul > 0
    _, near_rul = rul("--monitor-config", "alarm_ratio=5", "--monitor-config", "warning_ratio=3")
    assert near_rul < default_rul


@pytest.mark.parametrize(("arg", "message"), [
    ("warmpu=40", "unknown detector setting(s) warmpu (did you mean warmup?)"),
    ("warmup=4.5", "warmup: expected a whole number, got 4.5"),
    ("warmup=5", "warmup must be at least 8 snapshots, got 5"),
    ("alarm_ratio=high", "alarm_ratio: expected a number, got 'high'"),
    ("settings.json", "no such file: settings.json"),  # (was "'settings.json' is neither KEY=VALUE nor a JSON file")
    ("conf/settings", "no such file: conf/settings"),
    ("warmup", "'warmup' is neither KEY=VALUE nor a JSON file"),
])
def test_bad_engine_settings_are_refused_with_the_setting_named(capsys, tmp_path: Path, arg: str,
                                                                message: str) -> None:
    code, _, err = evaluate(capsys, str(tmp_path), "--monitor-config", arg)
    assert code == 2 and f"--monitor-config: {message}" in err


def test_a_folder_given_as_the_settings_file_is_named_a_folder(capsys, tmp_path: Path) -> None:
    code, _, err = evaluate(capsys, str(tmp_path), "--monitor-config", str(tmp_path))
    assert code == 2 and f"--monitor-config: {tmp_path} is a folder, not a JSON file of settings" in err


@needs_data
def test_an_option_that_no_dataset_given_would_use_is_refused(capsys, nab_slice: Path, user_file: Path) -> None:
    # the report used to come out as usual, as if the detector or the settings had been measured
    cwru = str(DATA / "cwru" / "normal_0_97.npz")
    code, out, err = evaluate(capsys, cwru, "--scalar-detector", f"{user_file}:Deviation")
    assert code == 2 and "--scalar-detector scores NAB-labelled series only" in err and not out
    code, out, err = evaluate(capsys, cwru, str(nab_slice), "--monitor-config", "warmup=40")
    assert code == 2 and "--monitor-config judges runs to failure and failure series only" in err and not out
    # with one dataset it applies to, the option is used as before
    ims = str(DATA / "ims" / "test2" / "bearing1.csv")
    code, out, err = evaluate(capsys, cwru, ims, "--monitor-config", "warmup=40", "--quiet")
    assert code == 0 and "engine settings: warmup=40" in out, err


def test_files_of_the_same_name_in_two_folders_are_two_detectors(tmp_path: Path) -> None:
    # the second used to be given the first one's module (cached by file name): "has no 'Second'"
    for folder, name in (("a", "First"), ("b", "Second")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "same_name.py").write_text(
            f"class {name}:\n    def score_one(self, x):\n        return 0.0\n    def learn_one(self, x):\n        pass\n")
    for folder, name in (("a", "First"), ("b", "Second")):
        assert type(Options.parse(f"{tmp_path / folder / 'same_name.py'}:{name}").make_scalar()()).__name__ == name


def test_a_settings_file_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(OptionError, match="expected a JSON object of settings, got list"):
        Options.parse(monitor_config=[str(path)])


def test_whole_numbers_given_as_floats_become_ints() -> None:
    # JSON writes 40.0 for 40 in some tools: accepted for a whole-number setting, and passed on as one
    assert Options.parse(monitor_config=["warmup=40.0"]).config() == {"warmup": 40}
    assert MonitorConfig.from_overrides({"warmup": 40.0}).warmup == 40
    assert MonitorConfig.from_overrides({"context_keys": ["rpm"]}).context_keys == ("rpm",)
