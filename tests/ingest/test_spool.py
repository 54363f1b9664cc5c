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
