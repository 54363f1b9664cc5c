"""The spool under hostile operations (walk-through 2026-11-22): a power loss that leaves zeros, a
disk that is full or read-only when the store returns, a stop in the middle of a long replay, a
segment deleted under the running service. Each test failed on the code before its fix."""

from __future__ import annotations

import errno
import logging
import threading

from foreshock.tsdb.base import Point, StoreUnavailable
from ingest.metrics import IngestMetrics
from ingest.spool import Spool
from ingest.writer import Outcome, StoreWriter
from tests.ingest.conftest import wait_until
from tests.ingest.test_store_outage import _DownStore


def _batch(i: int, n: int = 3) -> list[Point]:
    return [Point("telemetry", {"device": f"P-{i}"}, {"v": float(j)}, 1000 * i + j) for j in range(n)]


_Store = _DownStore  # a store that is down until ``up`` is set


def test_a_zero_filled_tail_left_by_a_power_loss_is_one_corrupt_piece_not_hundreds(tmp_path, caplog):
    """ext4 and XFS may leave the end of a file that was being appended to as zeros after a power loss.
    Eight zero bytes read as a valid empty record (length 0, CRC-32 of nothing is 0): each was moved
    to corrupt/ on its own, with two error lines: 4 KiB of zeros made 512 files and 1,024 lines."""
    spool = Spool(tmp_path)
    for i in range(3):
        spool.append(_batch(i))
    spool.close()
    (seg,) = tmp_path.glob("seg-*.spool")
    end = seg.stat().st_size
    with open(seg, "ab") as fh:
        fh.write(b"\0" * 4096)
    got: list[list[Point]] = []
    with caplog.at_level(logging.ERROR, logger="ingest.spool"):
        assert Spool(tmp_path).replay(got.append) == 9
    assert got == [_batch(i) for i in range(3)]
    (bad,) = (tmp_path / "corrupt").iterdir()
    assert bad.name == f"{seg.stem}-at-{end}.bad" and bad.read_bytes() == b"\0" * 4096
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "4096 corrupt or torn bytes" in errors[0].getMessage()


def test_zeros_in_the_middle_of_a_segment_are_skipped_to_the_next_record(tmp_path):
    spool = Spool(tmp_path)
    spool.append(_batch(0))
    spool.close()
    (seg,) = tmp_path.glob("seg-*.spool")
    first = seg.read_bytes()
    seg.write_bytes(first + b"\0" * 100 + first)  # a zeroed block between two records
    got: list[list[Point]] = []
    Spool(tmp_path).replay(got.append)
    assert got == [_batch(0), _batch(0)]
    assert len(list((tmp_path / "corrupt").iterdir())) == 1


def _no_space(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_when_the_store_returns_does_not_stop_the_replay(tmp_path, monkeypatch, caplog):
    """The spool's disk full (something else filled it) when the store came back: the replay could
    not save its position after the first record, so it wrote that record again every 2 s and nothing
    else, though the store was up; no message was acknowledged until the disk had room (seen with
    `foreshock run` on a 2 MiB tmpfs: 27 of 6,000 points stored in 30 s). Replaying frees the disk:
    the position is kept in memory meanwhile (a crash would replay it again, harmlessly)."""
    store = _Store()
    spool = Spool(tmp_path, segment_bytes=200)
    for i in range(6):
        spool.append(_batch(i))
    assert len(list(tmp_path.glob("seg-*.spool"))) > 1
    metrics = IngestMetrics()
    writer = StoreWriter(store, spool, metrics, probe_interval_s=0.01)
    monkeypatch.setattr(Spool, "_save_cursor", _no_space)  # the disk is full: the cursor cannot be written
    store.up = True
    with caplog.at_level(logging.WARNING, logger="ingest"):
        writer.maintain()
    assert writer.up and store.written == [p for i in range(6) for p in _batch(i)]
    assert spool.empty and not list(tmp_path.glob("seg-*.spool"))  # the replayed segments freed the disk
    assert "cannot save the replay position" in caplog.text and "No space left on device" in caplog.text
    batch = [_batch(9)]
    assert writer.write(batch, threading.Event()) == (Outcome.WRITTEN, {})


def test_a_read_only_spool_when_the_store_returns_is_replayed_once_then_written_directly(tmp_path, monkeypatch,
                                                                                         caplog):
    """The spool's file system turned read-only (errors=remount-ro) during the outage: the segments can
    be read but not deleted, the cursor not saved. The store is up: replay once, then write directly
    (before: the first record was written again every 2 s and nothing else)."""
    from pathlib import Path

    store = _Store()
    spool = Spool(tmp_path, segment_bytes=200)
    for i in range(4):
        spool.append(_batch(i))
    writer = StoreWriter(store, spool, IngestMetrics(), probe_interval_s=0.01)
    real_unlink = Path.unlink

    def read_only(self, *args, **kwargs):
        if self.parent == tmp_path:
            raise OSError(errno.EROFS, "Read-only file system")
        return real_unlink(self, *args, **kwargs)

    def no_cursor(*_args):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(Spool, "_save_cursor", no_cursor)
    monkeypatch.setattr(Path, "unlink", read_only)
    store.up = True
    with caplog.at_level(logging.ERROR, logger="ingest"):
        writer.maintain()
        writer._next_probe = 0.0
        writer.maintain()  # up already: nothing replayed twice
    assert writer.up and store.written == [p for i in range(4) for p in _batch(i)]
    assert "Read-only file system" in caplog.text
    assert spool.empty  # what is left on disk was replayed


def test_a_stop_during_a_long_replay_does_not_wait_for_the_whole_spool(mosquitto, tmp_path):
    """SIGTERM while a large spool was being replayed: the worker replayed all of it before it looked
    at the stop, and Spool.close() in IngestService.stop waited for the replay's lock, so the stop
    took as long as the replay (minutes for the spool of a long outage; systemd kills after
    TimeoutStopSec). Now the replay stops between two records; the rest stays spooled."""
    import uuid

    from foreshock.db import make_engine, migrate, session_factory
    from foreshock.settings import load_settings
    from ingest.deadletter import DeadLetterStore
    from ingest.service import IngestService
    from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER

    gate = threading.Semaphore(0)

    class SlowStore(_Store):
        calls = 0

        def write(self, points):
            self.calls += 1
            gate.acquire()  # each spooled record waits for the test
            super().write(points)

    settings = load_settings(
        data_dir=tmp_path,
        mqtt={"url": mosquitto.url, "username": PLATFORM_USER, "password": PLATFORM_PASSWORD,
              "client_id": f"stop-replay-{uuid.uuid4().hex[:8]}"},
        telemetry={"backend": "embedded"},
    )
    spool = Spool(settings.spool_dir)
    for i in range(50):
        spool.append(_batch(i))
    spool.close()
    store = SlowStore(up=True)
    engine = make_engine(f"sqlite:///{tmp_path / 'rel.db'}")
    migrate(engine)
    service = IngestService(settings, store, DeadLetterStore(session_factory(engine)), device_check=None,
                            probe_interval_s=0.05, freeze_gc=False)
    service.start()
    try:
        gate.release()
        gate.release()
        wait_until(lambda: len(store.written) == 6 and store.calls == 3, what="the third record being written")
        result: list[bool] = []
        stopper = threading.Thread(target=lambda: result.append(service.stop(timeout_s=15)), daemon=True)
        stopper.start()
        wait_until(lambda: service._stopping.is_set(), what="the stop to begin")
        gate.release()  # the record being written finishes; no other is let through
        stopper.join(60)  # the old code never returned: the rest of the replay waits on the gate
        assert not stopper.is_alive(), "stop() waited for the whole replay"
        assert result == [True]  # the worker finished by itself, not aborted
        assert len(store.written) == 9
        rest: list[list[Point]] = []
        Spool(settings.spool_dir).replay(rest.append)
        assert rest == [_batch(i) for i in range(3, 50)]  # kept for the next start
    finally:
        for _ in range(60):
            gate.release()
        engine.dispose()


def test_a_segment_deleted_while_open_loses_no_acknowledged_batch(tmp_path, caplog):
    """The open segment deleted under the running service (an operator's `rm spool/*`, a clean-up job):
    appends went on into the deleted file, fsync'ed and so acknowledged, and vanished with it at the
    next replay. Now an append notices, says so, and copies what the deleted file still holds into a
    new segment."""
    spool = Spool(tmp_path)
    spool.append(_batch(0))
    (seg,) = tmp_path.glob("seg-*.spool")
    seg.unlink()
    with caplog.at_level(logging.ERROR, logger="ingest.spool"):
        spool.append(_batch(1))
        spool.append(_batch(2))
    got: list[list[Point]] = []
    spool.replay(got.append)
    assert got == [_batch(0), _batch(1), _batch(2)]
    assert "was deleted while in use" in caplog.text


def test_a_spool_folder_deleted_while_running_is_made_again(tmp_path, caplog):
    import shutil

    spool_dir = tmp_path / "spool"
    spool = Spool(spool_dir)
    spool.append(_batch(0))
    shutil.rmtree(spool_dir)
    with caplog.at_level(logging.ERROR, logger="ingest.spool"):
        spool.append(_batch(1))
    got: list[list[Point]] = []
    spool.replay(got.append)
    assert got == [_batch(0), _batch(1)]


def test_a_cursor_with_a_negative_offset_does_not_stall_the_replay(tmp_path):
    """A damaged cursor file naming a negative offset: every replay failed with EINVAL (an OSError: the
    writer stayed down for ever, though the store was up)."""
    spool = Spool(tmp_path)
    spool.append(_batch(0))
    spool.close()
    (seg,) = tmp_path.glob("seg-*.spool")
    (tmp_path / "cursor").write_text(f"{int(seg.stem[4:])} -8\n")
    got: list[list[Point]] = []
    Spool(tmp_path).replay(got.append)
    assert got == [_batch(0)]


def test_a_batch_held_on_a_full_spool_is_said_at_once_then_once_a_minute(tmp_path, caplog, monkeypatch):
    """A full spool (or a full disk) during a long outage: the held batch was retried every probe (2 s)
    with an ERROR line each time, 1,800 lines an hour, 43,200 a day of the same sentence. Now: at once,
    then a line a minute with the count of tries, and a line when the spool takes the batch."""
    import ingest.writer as writer_mod

    now = [1000.0]
    monkeypatch.setattr(writer_mod.time, "monotonic", lambda: now[0])
    store = _Store()
    metrics = IngestMetrics()
    writer = StoreWriter(store, Spool(tmp_path, max_bytes=2048), metrics, probe_interval_s=0.001)
    big = [[Point("telemetry", {"device": "P-1"}, {"v": float(i)}, i) for i in range(200)]]
    result: list = []
    with caplog.at_level(logging.INFO, logger="ingest.writer"):
        thread = threading.Thread(target=lambda: result.append(writer.write(big, threading.Event())), daemon=True)
        thread.start()
        wait_until(lambda: metrics.get("spool_full_waits") >= 30, what="30 tries of the held batch")
        held = [r.getMessage() for r in caplog.records if "holding 200 points" in r.getMessage()]
        assert len(held) == 1 and "is full" in held[0]
        # Mosquitto's default queue (1,000 per session) dropped 6,510 of 12,000 messages in the walk-through
        # while the log said "the broker keeps the messages": the limit is named
        assert "max_queued_messages" in held[0]
        now[0] += 61.0  # a minute later: one more line, with the count
        wait_until(lambda: len([r for r in caplog.records if "holding 200 points" in r.getMessage()]) == 2,
                   what="the line of the next minute")
        held = [r.getMessage() for r in caplog.records if "holding 200 points" in r.getMessage()]
        assert "more tries since the last line" in held[1]
        store.up = True
        thread.join(30)
    assert result == [(Outcome.WRITTEN, {})]
    assert "no longer held" in caplog.text


def test_a_probe_tries_the_spool_once_not_with_all_the_stores_retries(tmp_path, caplog):
    """A store whose ping answers but whose writes fail (HTTP 500 or 429 behind a proxy, seen with
    `foreshock run`): every probe replayed with the store's full retries (6 tries, up to
    telemetry.max_retry_time_s), a WARNING line per retry, 5 lines every 2-3 s, and the worker, busy
    retrying, spooled one batch between probes while the broker held the rest. A probe is one try."""
    from foreshock.tsdb.retry import Retry

    class FailingWrites(_Store):
        calls = 0

        def __init__(self) -> None:
            super().__init__(up=True)
            self.retry = Retry(max_retries=5, sleep=lambda s: None)

        def write(self, points):
            def once():
                self.calls += 1
                raise StoreUnavailable("influx1 write: HTTP 500: overloaded")

            self.retry.call(once, "influx1 write")

    store = FailingWrites()
    spool = Spool(tmp_path)
    spool.append(_batch(0))
    writer = StoreWriter(store, spool, IngestMetrics(), probe_interval_s=0.01)
    with caplog.at_level(logging.INFO):
        writer.maintain()
    assert store.calls == 1 and not writer.up
    assert not [r for r in caplog.records if r.name == "foreshock.tsdb.retry"]
    assert "still unavailable (influx1 write: HTTP 500: overloaded)" in caplog.text
    store.calls = 0
    writer.up = True  # a direct write of new telemetry keeps the store's retries
    writer.write([_batch(1)], threading.Event())
    assert store.calls == 6
