"""``--json FILE`` is written whole or not at all, and a file that cannot be written is refused before
the evaluation (which may take minutes) rather than after it.

Found trying it as an engineer: the report was written in place (``open(path, "w")``), so a full
disk or a Ctrl-C while it was written left a truncated JSON where the previous report had been;
and a path whose folder passes the permission check but where no file can be made
(``/proc/r.json``; the same for root on a read-only mount) was refused only after the whole
evaluation had run.
"""

from __future__ import annotations

import errno
import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

import evaluation.cli
from foreshock.cli import main
from foreshock.datasets import write_run


def _run(tmp_path: Path) -> Path:
    x = np.random.default_rng(0).normal(0, 0.1, (6, 256))
    return write_run(tmp_path / "r", x, [10, 20, 30, 40, 50, 60], fs=25600, rpm=1800, events=[])


def _half_then(exc: BaseException):
    real = json.dump

    def dump(obj, fh, **kw):  # writes part of the report, then fails as a full disk or a Ctrl-C would
        fh.write(json.dumps(obj, **kw)[:40])
        fh.flush()
        raise exc

    return real, dump


@pytest.mark.parametrize("exc", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()],
                         ids=["disk-full", "ctrl-c"])
def test_a_report_that_fails_half_written_leaves_the_previous_one_whole(capsys, monkeypatch, tmp_path: Path, exc):
    path = _run(tmp_path)
    target = tmp_path / "report.json"
    previous = {"nab": None, "records": [], "runs": [], "settings": {}, "previous": True}  # an earlier report
    target.write_text(json.dumps(previous))
    _, dump = _half_then(exc)
    monkeypatch.setattr(evaluation.cli.json, "dump", dump)
    code = main(["evaluate", str(path), "--jobs", "1", "--quiet", "--json", str(target)])
    err = capsys.readouterr().err
    if isinstance(exc, KeyboardInterrupt):
        assert code == 130 and "foreshock: interrupted" in err
    else:
        assert code == 2 and "cannot write the JSON report" in err
    assert json.loads(target.read_text()) == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.npz", "report.json"]  # no temporary left


def test_the_report_replaces_the_previous_one_with_the_usual_permissions(capsys, tmp_path: Path):
    path = _run(tmp_path)
    target = tmp_path / "report.json"
    target.write_text('{"nab": null, "records": [], "runs": [], "settings": {}}')  # an earlier report
    os.chmod(target, 0o644)
    assert main(["evaluate", str(path), "--jobs", "1", "--quiet", "--json", str(target)]) == 0
    assert json.loads(target.read_text())["runs"][0]["name"] == "r"
    assert target.stat().st_mode & 0o777 == 0o644


def test_a_json_target_where_no_file_can_be_made_is_refused_before_evaluating(capsys, monkeypatch, tmp_path: Path):
    if not Path("/proc/self").is_dir():
        pytest.skip("needs Linux /proc")

    def must_not_run(*a, **k):
        raise AssertionError("evaluated before refusing --json")

    monkeypatch.setattr(evaluation.cli, "evaluate", must_not_run)
    code = main(["evaluate", str(_run(tmp_path)), "--jobs", "1", "--quiet", "--json", "/proc/foreshock-report.json"])
    err = capsys.readouterr().err
    assert code == 2 and "foreshock: error: --json /proc/foreshock-report.json: cannot be written" in err


def test_a_json_target_that_is_a_pipe_is_written_in_place(capsys, tmp_path: Path):
    path = _run(tmp_path)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()), daemon=True)
    reader.start()
    assert main(["evaluate", str(path), "--jobs", "1", "--quiet", "--json", str(fifo)]) == 0
    reader.join(60)
    assert json.loads(got[0])["runs"][0]["name"] == "r"
    assert fifo.is_fifo()


@pytest.mark.parametrize("victim", ["r.json", "settings.json"])
def test_a_json_target_that_is_no_report_is_refused_not_overwritten(capsys, tmp_path: Path, victim: str):
    """``--json runs/P-1.json`` (tab completion one name off) replaced the run's sidecar with the report,
    and the run could not be read again; a settings file given to --monitor-config was lost the same way."""
    path = _run(tmp_path)
    (tmp_path / "settings.json").write_text('{"warmup": 40}')
    before = (tmp_path / victim).read_text()
    code = main(["evaluate", str(path), "--jobs", "1", "--quiet", "--monitor-config", str(tmp_path / "settings.json"),
                 "--json", str(tmp_path / victim)])
    err = capsys.readouterr().err
    assert code == 2
    assert (f"--json {tmp_path / victim}: exists and is not a report of foreshock evaluate (a dataset's sidecar, a "
            "settings file?): it would be overwritten; give another file name") in err, err
    assert (tmp_path / victim).read_text() == before
