"""``foreshock simulate``: bad arguments are refused with the option named, before anything is
simulated or published, and never with a traceback.

Found by trying the documented command with bad values: ``--speed inf`` and ``--start`` beyond the
epoch-ms range of numpy raised ValueError / OverflowError tracebacks; ``--out`` naming a file said only
``[Errno 17] File exists``; a ``--truth`` path that cannot be written was found out only at the end
of a publishing run (hours later, the truth lost); ``--duration abc`` was reported as an error of
the fleet file; a broker that refuses a ``--replay`` exited 2 (bad arguments) where a fleet's exits 3;
a ``--start`` in the future made publishing wait, silently, until the wall clock reached it (years);
``--out`` into a folder holding another run overwrote that run's units of the same ids and left the
others beside the new ``truth.json``, so that ``foreshock evaluate`` summarised a mix of two fleets.
"""

from __future__ import annotations

import json

import pytest

from foreshock.cli import main

FLEET = """
seed = 1
duration = "30m"
[[units]]
id = "P-1"
model = "P-1800"
"""


@pytest.fixture
def fleet(tmp_path, monkeypatch):
    monkeypatch.setenv("FORESHOCK_MQTT__URL", "mqtt://127.0.0.1:1")  # nothing listens: must not be reached
    monkeypatch.setenv("FORESHOCK_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "fleet.toml"
    path.write_text(FLEET)
    return path


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--speed", "inf"], "--speed must be a positive number, got inf"),
        (["--speed", "nan"], "--speed must be a positive number, got nan"),
        (["--speed", "0"], "--speed must be a positive number, got 0"),
        (["--duration", "abc"], "foreshock: error: --duration: expected a duration"),
        (["--duration", "0"], "--duration must be positive"),
        (["--duration", "99999999d"], "--duration: '99999999d' is longer than"),
        (["--start", "99999999999999999999"], "--start: '99999999999999999999' is outside 1970-01-01 .. 9999-12-31"),
        (["--start", "1960-01-01"], "--start: '1960-01-01' is outside"),
        (["--start", "9999-12-31T23:50:00Z"], "would run past 9999-12-31"),
        (["--seed", "-3"], "--seed must be a non-negative integer, got -3"),  # was blamed on the fleet file
    ],
)
def test_bad_values_are_refused_naming_the_option(fleet, argv, says, capsys):
    assert main(["simulate", str(fleet), *argv]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert "fleet " not in err  # an option's error, not the fleet file's


def test_out_that_is_a_file_is_refused_and_left_alone(fleet, tmp_path, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    assert main(["simulate", str(fleet), "--out", str(target), "--quiet"]) == 2
    assert f"--out {target}: exists and is not a folder" in capsys.readouterr().err
    assert target.read_text() == "keep me"


def test_truth_that_cannot_be_written_is_refused_before_publishing(fleet, tmp_path, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder is needed")
    # were it accepted, publishing would be tried first and fail on the closed port with exit code 3
    assert main(["simulate", str(fleet), "--truth", str(blocker / "truth.json"), "--speed", "1000"]) == 1  # an OS error
    assert f"--truth {blocker / 'truth.json'}: cannot create its folder" in capsys.readouterr().err
    assert main(["simulate", str(fleet), "--truth", str(tmp_path), "--speed", "1000"]) == 2
    assert "is a folder; give a file name" in capsys.readouterr().err


def test_good_out_and_truth_still_write_the_files(fleet, tmp_path, capsys):
    out, truth = tmp_path / "runs" / "a", tmp_path / "t" / "truth.json"
    assert main(["simulate", str(fleet), "--out", str(out), "--truth", str(truth), "--quiet",
                 "--start", "2026-01-01T00:00:00Z"]) == 0
    assert (out / "P-1.npz").is_file() and json.loads(truth.read_text())["start_ms"] == 1767225600000


def test_broker_refusing_a_replay_exits_3_like_a_fleet(fleet, tmp_path, capsys):
    import numpy as np

    from foreshock.datasets import write_run

    run = write_run(tmp_path / "r", np.zeros((2, 64)), [0, 10], fs=25600, rpm=1800)
    assert main(["simulate", "--replay", str(run), "--device", "R-1", "--speed", "100"]) == 3
    assert main(["simulate", str(fleet), "--speed", "100", "--duration", "1m"]) == 3
    err = capsys.readouterr().err
    assert err.count("MQTT mqtt://127.0.0.1:1") == 2 and "Traceback" not in err


def test_a_future_start_is_refused_when_publishing_but_not_for_files(fleet, tmp_path, capsys):
    import numpy as np

    from foreshock.datasets import write_run

    run = write_run(tmp_path / "r", np.zeros((2, 64)), [0, 10], fs=25600, rpm=1800)
    # the broker is never reached: refused first (a reached broker would exit 3 here, nothing listens)
    assert main(["simulate", str(fleet), "--start", "2099-01-01", "--speed", "100"]) == 2
    assert main(["simulate", "--replay", str(run), "--device", "R-1", "--start", "2099-01-01"]) == 2
    err = capsys.readouterr().err
    assert err.count("--start 2099-01-01: is in the future; publishing would wait until then") == 2
    assert main(["simulate", str(fleet), "--start", "2099-01-01", "--out", str(tmp_path / "o"), "--quiet"]) == 0


def test_out_into_a_folder_holding_another_run_is_refused_and_leaves_it_alone(fleet, tmp_path, capsys):
    out = tmp_path / "runs"
    assert main(["simulate", "demo", "--out", str(out), "--duration", "1h", "--quiet"]) == 0
    before = {f.name: f.read_bytes() for f in out.iterdir()}
    assert main(["simulate", str(fleet), "--out", str(out), "--quiet"]) == 2
    assert f"--out {out}: the folder is not empty" in capsys.readouterr().err
    assert {f.name: f.read_bytes() for f in out.iterdir()} == before
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["simulate", str(fleet), "--out", str(empty), "--quiet"]) == 0  # an empty folder is fine


def test_an_accelerated_run_that_would_end_ahead_of_now_says_it_slows_to_real_time(fleet, capsys):
    """``--start`` a minute ago with ``--duration 10m --speed 100`` took 9 minutes, not 6 s, without a word:
    a message is sent only once the wall clock reaches its stamp, so the run went at speed 1 after 0.6 s."""
    import time

    start = int(time.time() * 1000) - 60_000
    assert main(["simulate", str(fleet), "--start", str(start), "--duration", "10m", "--speed", "100"]) == 3  # no broker
    err = capsys.readouterr().err
    assert "foreshock: note: this run ends" in err and "ahead of now: it goes at speed 1 once the simulated clock " \
        "reaches the wall clock (a message is sent only once its stamp has come), so it takes about" in err, err
    assert main(["simulate", str(fleet), "--duration", "10m", "--speed", "100"]) == 3  # the default start: ends now
    assert "foreshock: note" not in capsys.readouterr().err
