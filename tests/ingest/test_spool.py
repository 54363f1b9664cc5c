"""The on-disk spool: order, durability across reopen, bounds, torn records."""

from __future__ import annotations

import pytest

from foreshock.tsdb.base import Point, StoreUnavailable
from ingest.spool import Spool, SpoolFull


def _batch(i: int, n: int = 3) -> list[Point]:
    return [Point("telemetry", {"device": f"P-{i}"}, {"v": float(j), "n": j}, 1000 * i + j) for j in range(n)]


def test_replays_in_order_across_segments_and_empties(tmp_path):
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=300)
    for i in range(10):
        spool.append(_batch(i))
    assert len(list(tmp_path.glob("seg-*.spool"))) > 1
    got: list[Point] = []
    assert spool.replay(got.extend) == 30
    assert got == [p for i in range(10) for p in _batch(i)]
    assert spool.empty and not list(tmp_path.glob("seg-*.spool"))
    spool.close()


def test_survives_reopen_and_resumes_after_a_failed_write(tmp_path):
    spool = Spool(tmp_path, max_bytes=1 << 20)
    for i in range(4):
        spool.append(_batch(i))
    spool.close()
    reopened = Spool(tmp_path, max_bytes=1 << 20)
    got: list[list[Point]] = []

    def flaky(points: list[Point]) -> None:
        if len(got) == 2:
            raise StoreUnavailable("down again")
        got.append(points)

    with pytest.raises(StoreUnavailable):
        reopened.replay(flaky)
    assert got == [_batch(0), _batch(1)] and not reopened.empty
    rest: list[list[Point]] = []
    Spool(tmp_path, max_bytes=1 << 20).replay(rest.append)
    assert rest == [_batch(2), _batch(3)]


def test_full_spool_refuses_and_frees_after_replay(tmp_path):
    spool = Spool(tmp_path, max_bytes=2048)
    with pytest.raises(SpoolFull, match="full"):
        for i in range(100):
            spool.append(_batch(i))
    assert spool.size_bytes <= 2048
    spool.replay(lambda points: None)
    spool.append(_batch(0))
    spool.close()


def test_torn_record_at_the_end_is_skipped(tmp_path):
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append(_batch(1))
    spool.append(_batch(2))
    spool.close()
    seg = next(tmp_path.glob("seg-*.spool"))
    seg.write_bytes(seg.read_bytes()[:-5])  # a crash in the middle of the last append
    got: list[list[Point]] = []
    Spool(tmp_path, max_bytes=1 << 20).replay(got.append)
    assert got == [_batch(1)]


def test_too_small_bound_is_named(tmp_path):
    with pytest.raises(ValueError, match="max_bytes"):
        Spool(tmp_path, max_bytes=10)


def _segment(tmp_path):
    (seg,) = tmp_path.glob("seg-*.spool")
    return seg


_PARTIAL_WRITE = """
import resource, signal, sys
from foreshock.tsdb.base import Point
from ingest.spool import Spool
spool = Spool(sys.argv[1], max_bytes=1 << 24)
batch = lambda i: [Point("telemetry", {"device": "P-1"}, {"v": float(j)}, 10_000 * i + j) for j in range(2000)]
spool.append(batch(0))
size = spool.size_bytes
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 300, resource.RLIM_INFINITY))  # the disk is full
try:
    spool.append(batch(1))
except Exception as exc:  # SpoolUnwritable (the old code: the bare OSError)
    print("refused:", type(exc).__name__, exc)
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))  # room again
spool.append(batch(2))
spool.append(batch(3))
"""


def test_an_append_the_disk_refuses_halfway_is_cut_back_and_later_appends_are_replayed(tmp_path):
    """Disk full in the middle of an append (a real short write: the file size limit of a child process).
    The partial record stayed in the middle of the segment, and the replay skipped everything after it:
    batches 2 and 3, appended and acknowledged after the disk had room again, were lost."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", _PARTIAL_WRITE, str(tmp_path)], cwd=root, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    got: list[list[Point]] = []
    Spool(tmp_path, max_bytes=1 << 24).replay(got.append)
    assert [b[0].ts_ms // 10_000 for b in got] == [0, 2, 3]  # batch 1 was refused, so never acknowledged
    assert f"refused: SpoolUnwritable cannot write to the spool {tmp_path}: File too large" in done.stdout
    assert not (tmp_path / "corrupt").exists()  # nothing torn was left behind


def test_a_cursor_left_by_a_crash_does_not_skip_the_start_of_a_new_segment(tmp_path):
    """SIGKILL between deleting a replayed segment and resetting the cursor left ``cursor`` at the end
    of seg 1; the next outage wrote a new seg 1, and its replay started at that offset: lost."""
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append(_batch(0))
    spool.append(_batch(1))
    spool.close()
    seg = _segment(tmp_path)
    end = seg.stat().st_size
    seg.unlink()  # what the crash leaves: the segment replayed and deleted, the cursor not reset
    (tmp_path / "cursor").write_text(f"1 {end}\n")
    spool = Spool(tmp_path, max_bytes=1 << 20)
    for i in range(2, 6):
        spool.append(_batch(i))
    got: list[list[Point]] = []
    spool.replay(got.append)
    assert got == [_batch(i) for i in range(2, 6)]


def test_a_corrupt_record_in_the_middle_is_moved_aside_and_the_rest_replayed(tmp_path, caplog):
    """A bad block in the middle of a segment: the records after it were skipped and deleted."""
    spool = Spool(tmp_path, max_bytes=1 << 20)
    starts = []
    for i in range(4):
        starts.append(spool.size_bytes)
        spool.append(_batch(i))
    spool.close()
    seg = _segment(tmp_path)
    data = bytearray(seg.read_bytes())
    data[starts[1] + 20] ^= 0xFF  # a flipped bit in the second record's JSON
    data[starts[2]] = 0x7F  # and a length field of the third claiming 2 GiB
    seg.write_bytes(bytes(data))
    got: list[list[Point]] = []
    with caplog.at_level("ERROR", logger="ingest.spool"):
        Spool(tmp_path, max_bytes=1 << 20).replay(got.append)
    assert got == [_batch(0), _batch(3)]
    (bad,) = (tmp_path / "corrupt").iterdir()  # both bad records, kept for inspection, not deleted unseen
    assert bad.name == f"{seg.stem}-at-{starts[1]}.bad"
    assert bad.read_bytes() == bytes(data[starts[1] : starts[3]])
    assert f"{starts[3] - starts[1]} corrupt or torn bytes at {starts[1]}" in caplog.text
    assert str(bad) in caplog.text
    assert not list(tmp_path.glob("seg-*.spool"))


def test_a_torn_header_claiming_gigabytes_is_not_read(tmp_path):
    """A torn header's length may be anything up to 4 GiB; reading it allocated that much (a
    MemoryError under a memory limit, which stalled the replay and with it all of ingest)."""
    import struct
    import tracemalloc

    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append(_batch(0))
    spool.close()
    with open(_segment(tmp_path), "ab") as fh:
        fh.write(struct.pack(">II", 0xFFFFFFF0, 0) + b"{")  # power lost while appending
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append(_batch(1))  # the next run appends to a new segment
    got: list[list[Point]] = []
    tracemalloc.start()
    try:
        spool.replay(got.append)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got == [_batch(0), _batch(1)]
    assert peak < 50 << 20
