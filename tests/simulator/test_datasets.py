"""foreshock.datasets: round trips, the shared datasets, and errors that name file and problem."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from foreshock import datasets as D

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"


def test_series_round_trip(tmp_path):
    ts = np.array([1_700_000_000_000, 1_700_000_010_000, 1_700_000_020_000])
    p = D.write_series(
        tmp_path / "u1_temperature_c",
        ts,
        [20.5, 21.0, 21.25],
        meta={"unit": "degC", "events": [{"kind": "failure", "timestamp": "2023-11-14 22:13:40"}]},
    )
    assert p.suffix == ".csv" and p.with_suffix(".json").exists()
    s = D.read_series(p)
    assert list(s.t_ms) == list(ts)
    assert list(s.values) == [20.5, 21.0, 21.25]
    assert s.meta["unit"] == "degC" and s.meta["kind"] == "series"
    assert s.failure_ms == 1_700_000_020_000
    assert D.detect_kind(p) == "series"


def test_series_with_milliseconds_round_trip(tmp_path):
    ts = [1_700_000_000_250, 1_700_000_000_500]
    s = D.read_series(D.write_series(tmp_path / "s", ts, [1.0, 2.0]))
    assert list(s.t_ms) == ts


def test_record_round_trip(tmp_path):
    x = np.sin(np.arange(1000) / 10).astype(np.float32)
    p = D.write_record(tmp_path / "rec", x, fs=12000.0, rpm=1797.0, meta={"fault": "none"})
    r = D.read_record(p.with_suffix(".json"))
    np.testing.assert_array_equal(r.x, x)
    assert (r.fs, r.rpm, r.fault) == (12000.0, 1797.0, "none")
    assert D.detect_kind(tmp_path / "rec") == "record"


def test_run_round_trip_keeps_events_and_float16(tmp_path):
    x = np.random.default_rng(0).normal(size=(4, 256))
    p = D.write_run(
        tmp_path / "run",
        x,
        [0, 600, 1200, 1800],
        fs=25600,
        rpm=1800,
        events=[{"kind": "failure", "t": 1800.0, "mode": "inner_race"}],
        meta={"interval_s": 600},
    )
    r = D.read_run(p)
    assert r.x.dtype == np.float16 and r.x.shape == (4, 256)
    np.testing.assert_allclose(r.x, x, atol=4e-3)
    assert (r.failure_t, r.failure_mode, r.meta["interval_s"]) == (1800.0, "inner_race", 600)
    assert isinstance(D.read(p), D.Run)


def test_run_without_failure_survived(tmp_path):
    r = D.read_run(D.write_run(tmp_path / "ok", np.zeros((2, 4)), [0, 1], fs=100, rpm=0))
    assert r.failure_t is None and r.failure_mode is None


@pytest.mark.parametrize(
    ("csv_text", "problem"),
    [
        ("time,value\n2020-01-01 00:00:00,1\n", "line 1: expected header 'timestamp,value'"),
        ("timestamp,value\n2020-01-01 00:00:00,abc\n", "line 2: value 'abc' is not a number"),
        ("timestamp,value\n2020-01-01 00:00:00,1\nyesterday,2\n", "line 3: 'yesterday' is not a timestamp"),
        ("timestamp,value\n2020-01-01 00:00:00,1,3\n", "line 2: expected 2 fields, got 3"),
        ("timestamp,value\n2020-01-01 00:00:00,nan\n", "line 2: value 'nan' is not finite"),
        # were tracebacks (IndexError in the evaluation of an empty series)
        ("timestamp,value\n", "no data rows after the header"),
        ("timestamp,value\n\n\n", "no data rows after the header"),
    ],
)
def test_bad_series_names_file_and_problem(tmp_path, csv_text, problem):
    f = tmp_path / "bad.csv"
    f.write_text(csv_text)
    with pytest.raises(D.DatasetError) as err:
        D.read_series(f)
    assert str(err.value).startswith(f"{f}: {problem}")


def test_bad_sidecar_is_refused(tmp_path):
    D.write_run(tmp_path / "r", np.zeros((2, 4)), [0, 1], fs=100, rpm=0)
    (tmp_path / "r.json").write_text(json.dumps({"kind": "run", "events": [{"kind": "failure"}]}))
    with pytest.raises(D.DatasetError, match=r"r\.json: events\[0\]: failure event needs 't'"):
        D.read_run(tmp_path / "r.npz")
    (tmp_path / "r.json").write_text("{not json")
    with pytest.raises(D.DatasetError, match=r"r\.json: sidecar is not valid JSON"):
        D.read_run(tmp_path / "r.npz")
    (tmp_path / "r.json").write_text(json.dumps({"kind": "record"}))
    with pytest.raises(D.DatasetError, match="sidecar says kind 'record', expected 'run'"):
        D.read_run(tmp_path / "r.npz")


def test_a_sidecar_kind_that_disagrees_with_the_array_is_named(tmp_path):
    """A run file whose sidecar says "record" was refused as "'x' must be 1-D", without a word that the
    sidecar's kind chose the reader."""
    np.savez(tmp_path / "r.npz", x=np.zeros((4, 256)), t=np.arange(4.0), fs=1000.0, rpm=1800.0)
    (tmp_path / "r.json").write_text(json.dumps({"kind": "record"}))
    with pytest.raises(D.DatasetError, match=r"r\.npz: 'x' has shape \(4, 256\), but the sidecar's \"kind\": "
                                             r"\"record\" needs 1-D \(n,\) \(a 2-D 'x' is a run\)"):
        D.read(tmp_path / "r.npz")


def test_bad_npz_contents_are_refused(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.zeros(10), fs=1000.0, rpm=60.0)
    with pytest.raises(D.DatasetError, match=r"a\.npz: 'x' must be 2-D"):
        D.read_run(tmp_path / "a")
    np.savez(tmp_path / "b.npz", x=np.zeros((2, 3)), t=[0.0, 1.0], rpm=60.0)
    with pytest.raises(D.DatasetError, match=r"b\.npz: missing 'fs'"):
        D.read_run(tmp_path / "b")
    np.savez(tmp_path / "c.npz", x=np.zeros((2, 3)), t=[1.0, 0.0], fs=100.0, rpm=60.0)
    with pytest.raises(D.DatasetError, match=r"'t' must be non-decreasing"):
        D.read_run(tmp_path / "c")
    np.savez(tmp_path / "d.npz", x=np.array([1.0, np.nan]), fs=100.0, rpm=60.0)
    with pytest.raises(D.DatasetError, match=r"'x' has 1 non-finite values"):
        D.read_record(tmp_path / "d")
    (tmp_path / "e.npz").write_bytes(b"garbage")
    with pytest.raises(D.DatasetError, match=r"e\.npz: not a readable npz archive"):
        D.read_record(tmp_path / "e")


def test_writers_refuse_bad_input(tmp_path):
    with pytest.raises(D.DatasetError, match="fs = 0 must be a positive number"):
        D.write_record(tmp_path / "r", np.zeros(4), fs=0, rpm=10)
    with pytest.raises(D.DatasetError, match="must be 1-D of the same length"):
        D.write_series(tmp_path / "s", [1, 2], [1.0])
    with pytest.raises(D.DatasetError, match=r"'t' must have shape \(2,\)"):
        D.write_run(tmp_path / "u", np.zeros((2, 4)), [0.0], fs=100, rpm=0)
    with pytest.raises(D.DatasetError, match="no dataset here"):
        D.detect_kind(tmp_path / "nothing")


@pytest.mark.skipif(not SHARED.exists(), reason="shared datasets not present")
def test_reads_the_shared_datasets():
    femto = D.read_run(SHARED / "femto" / "Bearing1_1.npz")
    assert femto.x.shape[1] == 2560 and femto.fs == 25600.0 and femto.failure_t == 28020.0
    cwru = D.read_record(SHARED / "cwru" / "12k_Fan_End_B007_0_282")
    assert cwru.fault == "ball" and cwru.bearing["n_balls"] == 8
    ims = D.read_series(SHARED / "ims" / "test2" / "bearing1.csv")
    assert ims.failure_ms is not None and ims.failure_ms <= ims.t_ms[-1]
    nab = D.read_series(SHARED / "nab" / "data" / "realKnownCause" / "nyc_taxi.csv")
    assert nab.meta == {} and len(nab.values) > 10_000
    assert {D.detect_kind(p) for p in (SHARED / "femto").glob("*.npz")} == {"run"}
    assert {D.detect_kind(p) for p in (SHARED / "cwru").glob("*.npz")} == {"record"}


def test_series_that_is_not_text_names_the_file(tmp_path):
    """A binary file named .csv raised UnicodeDecodeError out of ``foreshock evaluate``."""
    f = tmp_path / "blob.csv"
    f.write_bytes(b"\xff\xfe\x00garbage\x89PNG")
    with pytest.raises(D.DatasetError) as err:
        D.read_series(f)
    assert str(err.value).startswith(f"{f}: not UTF-8 text")


def test_npz_with_non_numeric_times_or_scalars_is_refused(tmp_path):
    """Text or complex ``t``, or a text ``fs``, raised ValueError tracebacks or lost the imaginary part."""
    np.savez(tmp_path / "a.npz", x=np.zeros((3, 4)), t=np.array(["a", "b", "c"]), fs=100.0, rpm=60.0)
    with pytest.raises(D.DatasetError, match=r"a\.npz: 't' must be numbers of seconds, got <U1"):
        D.read_run(tmp_path / "a")
    np.savez(tmp_path / "b.npz", x=np.zeros((3, 4)), t=np.arange(3.0) + 1j, fs=100.0, rpm=60.0)
    with pytest.raises(D.DatasetError, match=r"b\.npz: 't' must be numbers of seconds, got complex128"):
        D.read_run(tmp_path / "b")
    np.savez(tmp_path / "c.npz", x=np.zeros((3, 4)), t=np.arange(3.0), fs=np.array("fast"), rpm=60.0)
    with pytest.raises(D.DatasetError, match=r"c\.npz: 'fs' must be a number, got 'fast'"):
        D.read_run(tmp_path / "c")
    np.savez(tmp_path / "d.npz", x=np.zeros(8), fs=100.0, rpm=np.array(True))
    with pytest.raises(D.DatasetError, match=r"d\.npz: 'rpm' must be a number, got True"):
        D.read_record(tmp_path / "d")
    np.savez(tmp_path / "e.npz", x=np.zeros((3, 4)), t=np.arange(3), fs=100, rpm=60)  # integers are numbers
    assert D.read_run(tmp_path / "e").t.tolist() == [0.0, 1.0, 2.0]


def test_failure_before_the_run_start_is_refused(tmp_path):
    """A failure at a negative ``t`` was evaluated into a negative lead time."""
    D.write_run(tmp_path / "r", np.zeros((2, 4)), [0, 1], fs=100, rpm=0)
    (tmp_path / "r.json").write_text(json.dumps({"kind": "run", "events": [{"kind": "failure", "t": -5}]}))
    with pytest.raises(D.DatasetError, match=r"r\.json: events\[0\]\.t: -5 is before the run's start"):
        D.read_run(tmp_path / "r.npz")
