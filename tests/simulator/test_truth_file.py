"""``--truth FILE`` where no file can be made is refused before anything is simulated or published,
and the truth is written whole.

Found with ``--truth /proc/t.json`` (as root, as on a read-only mount): the folder passed the
permission check, the whole run was simulated (or published), and only then did the command fail
with a bare ``[Errno 2] No such file or directory`` naming no option: the truth was lost.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foreshock.cli import main
from simulator.fleet import demo_fleet
from simulator.truth import Truth

FLEET = """
seed = 1
duration = "30m"
[[units]]
id = "P-1"
model = "P-1800"
"""


def test_a_truth_file_where_no_file_can_be_made_is_refused_before_simulating(capsys, monkeypatch, tmp_path):
    if not Path("/proc/self").is_dir():
        pytest.skip("needs Linux /proc")
    monkeypatch.setenv("FORESHOCK_MQTT__URL", "mqtt://127.0.0.1:1")
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(FLEET)
    out = tmp_path / "runs"
    code = main(["simulate", str(fleet), "--out", str(out), "--truth", "/proc/foreshock-truth.json", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "foreshock: error: --truth /proc/foreshock-truth.json: no file can be made in /proc" in err
    assert not out.exists() or not any(out.iterdir())  # nothing simulated


def test_the_truth_is_written_whole_or_not_at_all(monkeypatch, tmp_path):
    path = tmp_path / "truth.json"
    path.write_text('{"previous": true}')
    truth = Truth.of(demo_fleet(), start_ms=0, end_ms=3_600_000)

    def half(self, text, encoding=None):  # what a full disk does halfway through
        with open(self, "w", encoding=encoding) as fh:
            fh.write(text[: len(text) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", half)
    with pytest.raises(OSError):
        truth.write(path)
    assert json.loads(path.read_text()) == {"previous": True}
    assert [p.name for p in tmp_path.iterdir()] == ["truth.json"]


@pytest.mark.parametrize("victim", ["fleet.toml", "notes.json"])
def test_a_truth_target_that_is_no_truth_is_refused_not_overwritten(capsys, monkeypatch, tmp_path, victim):
    """``--truth fleet.toml`` replaced the fleet file with the run's ground truth: the fleet was lost."""
    monkeypatch.setenv("FORESHOCK_MQTT__URL", "mqtt://127.0.0.1:1")
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(FLEET)
    (tmp_path / "notes.json").write_text('{"owner": "me"}')
    before = (tmp_path / victim).read_text()
    code = main(["simulate", str(fleet), "--out", str(tmp_path / "runs"), "--truth", str(tmp_path / victim), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert (f"--truth {tmp_path / victim}: exists and is not a ground truth written by foreshock simulate (the fleet "
            "file, a dataset?): it would be overwritten") in err, err
    assert (tmp_path / victim).read_text() == before


def test_an_earlier_truth_is_replaced(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("FORESHOCK_MQTT__URL", "mqtt://127.0.0.1:1")
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(FLEET)
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps({"seed": 0, "start_ms": 0, "end_ms": 1, "units": []}))
    assert main(["simulate", str(fleet), "--out", str(tmp_path / "runs"), "--truth", str(truth), "--quiet"]) == 0
    assert [u["unit_id"] for u in json.loads(truth.read_text())["units"]] == ["P-1"]


def test_a_truth_to_a_device_or_a_pipe_is_written_into_it_not_put_in_its_place(tmp_path):
    """``--truth /dev/null`` replaced the device with a regular file (written beside it, renamed over it):
    the machine's /dev/null was gone for every program until it was made again. A FIFO stands in here."""
    import os
    import stat

    fifo = tmp_path / "truth.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader, so that opening it to write does not wait
    try:
        Truth.of(demo_fleet(), start_ms=0, end_ms=3_600_000).write(fifo)
        assert stat.S_ISFIFO(fifo.stat().st_mode)
        got = b""
        while chunk := os.read(reader, 1 << 16):
            got += chunk
    finally:
        os.close(reader)
    assert json.loads(got)["end_ms"] == 3_600_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["truth.fifo"]  # nothing left beside it


def test_a_truth_through_a_symbolic_link_replaces_the_file_it_points_to(tmp_path):
    """``--truth latest.json``, a link to the current truth, put a file in the link's place and left the
    file it pointed to as it was (``foreshock evaluate --json`` already follows the link)."""
    target = tmp_path / "runs" / "truth-1.json"
    target.parent.mkdir()
    target.write_text(json.dumps({"seed": 0, "start_ms": 0, "end_ms": 1, "units": []}))
    link = tmp_path / "latest.json"
    link.symlink_to(target)
    Truth.of(demo_fleet(), start_ms=0, end_ms=3_600_000).write(link)
    assert link.is_symlink() and json.loads(target.read_text())["end_ms"] == 3_600_000
