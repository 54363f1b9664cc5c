"""A bounded on-disk spool for point batches while the telemetry store is down.

Append-only segment files (``seg-<n>.spool``) of framed records: ``length (4 bytes, big endian) |
crc32 (4) | JSON``; every append is fsync'ed before it returns, so a spooled batch may be
acknowledged to the broker. Replay reads records oldest first and hands them to a writer; a
segment is deleted once all its records were written, and the read position inside the oldest
segment is kept in ``cursor`` (fsync'ed), so a restart replays at most one record twice, which
the store's idempotent writes make harmless. A segment number is never reused while the cursor
names it (a crash between deleting a replayed segment and resetting the cursor left the cursor
pointing into the next segment of that number: its first records were skipped).

A record that fails its length/CRC check (a crash or power loss during an append, a bad disk
block, the zeros ext4 and XFS may leave at the end of a file after a power loss) does not stop the
replay: the bytes up to the next valid record are moved to ``corrupt/seg-<n>-at-<offset>.bad``
(logged as an error, nothing deleted unseen) and the replay goes on from there. A length field
larger than the rest of the segment is never read; a length of 0 is never valid.

When the cursor cannot be saved or a replayed segment cannot be deleted (the spool's disk full or
read-only when the store returns), the replay goes on with its position in memory: replaying is
what frees the disk. The segment being appended to is checked before each append and replay: if
something deleted it (or the whole folder), what the open file still holds is copied into a new
segment (acknowledged batches went on into the deleted file and were lost with it).

When an append would take the spool past ``max_bytes`` it raises :class:`SpoolFull`; when the
disk refuses it (full, read-only, an I/O error) it raises :class:`SpoolUnwritable` after cutting
the segment back to where the append began (a partial record in the middle of a segment made the
replay skip every later, acknowledged record of it). Both are :class:`SpoolUnavailable`: ingest
then stops acknowledging and the broker keeps the messages.

>>> import tempfile
>>> from foreshock.tsdb.base import Point
>>> spool = Spool(tempfile.mkdtemp(), max_bytes=1 << 20)
>>> spool.append([Point("telemetry", {"device": "P-1"}, {"t": 1.0}, 1000)])
>>> got = []
>>> spool.replay(got.extend), got[0].fields, spool.empty
(1, {'t': 1.0}, True)
"""

from __future__ import annotations

import json
import logging
import os
import struct
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from foreshock.tsdb.base import Point

__all__ = ["Spool", "SpoolFull", "SpoolUnavailable", "SpoolUnwritable"]

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">II")


class SpoolUnavailable(RuntimeError):
    """The spool cannot take this batch now: the caller holds it unacknowledged and tries again."""


class SpoolFull(SpoolUnavailable):
    """The spool has no room for this batch (``ingest.spool_max_bytes``)."""


class SpoolUnwritable(SpoolUnavailable):
    """The spool's disk refused the append (full, read-only, I/O error); nothing of it was kept."""


def _encode(points: list[Point]) -> bytes:
    return json.dumps([[p.measurement, p.tags, p.fields, p.ts_ms] for p in points], separators=(",", ":")).encode()


def _decode(blob: bytes) -> list[Point]:
    return [Point(m, t, f, ts) for m, t, f, ts in json.loads(blob)]


class Spool:
    def __init__(self, directory: str | Path, *, max_bytes: int = 1 << 30, segment_bytes: int = 16 << 20) -> None:
        if max_bytes < 1024:
            raise ValueError(f"spool max_bytes must be at least 1024, got {max_bytes}")
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        # unbuffered: nothing of a failed append is left in a buffer to be flushed by the next one
        self._write_fh: BinaryIO | None = None
        self._write_seg: int | None = None
        # Where the replay got to when the cursor file could not be written (the spool's disk full or
        # read-only): kept here meanwhile, so the replay goes on and frees the disk instead of writing
        # its first record again at every probe. A crash then replays it again, harmlessly.
        self._mem_cursor: tuple[int, int] | None = None
        # Segments replayed to the end that could not be deleted (a read-only disk): not replayed again
        # by this process (the next start replays them once more, harmlessly).
        self._done: set[int] = set()

    # -- state ---------------------------------------------------------------------------------

    def _segment_files(self) -> list[int]:
        return sorted(int(p.stem[4:]) for p in self.dir.glob("seg-*.spool") if p.stem[4:].isdigit())

    def _segments(self) -> list[int]:
        """The segments still to replay."""
        return [seg for seg in self._segment_files() if seg not in self._done]

    def _path(self, seg: int) -> Path:
        return self.dir / f"seg-{seg:010d}.spool"

    def _cursor(self) -> tuple[int, int]:
        if self._mem_cursor is not None:
            return self._mem_cursor
        try:
            seg, offset = (int(x) for x in (self.dir / "cursor").read_text().split())
        except (OSError, ValueError):  # none yet, or unreadable: from the start (a replay twice is harmless)
            return 0, 0
        if seg < 0 or offset < 0:  # damaged: a negative offset made every replay fail (EINVAL), for ever
            log.error("spool %s: the cursor file names segment %d at offset %d; replaying from the start",
                      self.dir, seg, offset)
            return 0, 0
        return seg, offset

    def _note_progress(self, seg: int, offset: int) -> None:
        """Save the replay position; when the disk refuses (full, read-only), keep it in memory and go on:
        replaying is what frees the disk. Said once per replay."""
        try:
            self._save_cursor(seg, offset)
        except OSError as exc:
            if not self._cursor_warned:
                log.warning("spool %s: cannot save the replay position (%s); going on with it in memory (a crash "
                            "now replays some batches twice, which the store takes as the same points)",
                            self.dir, exc.strerror or exc)
                self._cursor_warned = True
            self._mem_cursor = (seg, offset)
            return
        self._mem_cursor = None

    _cursor_warned = False

    def _save_cursor(self, seg: int, offset: int) -> None:
        tmp = self.dir / "cursor.tmp"
        with open(tmp, "w") as fh:
            fh.write(f"{seg} {offset}\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.dir / "cursor")

    @property
    def size_bytes(self) -> int:
        """Bytes still to replay (segment sizes minus what the cursor says was replayed)."""
        with self._lock:
            return self._size()

    def _size(self) -> int:
        cur_seg, cur_off = self._cursor()
        total = 0
        for seg in self._segments():
            size = self._path(seg).stat().st_size
            total += size - cur_off if seg == cur_seg else size
        return max(total, 0)

    @property
    def empty(self) -> bool:
        return self.size_bytes == 0

    # -- writing -------------------------------------------------------------------------------

    def append(self, points: list[Point]) -> None:
        """Durably add one batch; raises :class:`SpoolFull` when it does not fit and
        :class:`SpoolUnwritable` when the disk refuses it (then nothing of it is kept)."""
        blob = _encode(points)
        record = _HEADER.pack(len(blob), zlib.crc32(blob)) + blob
        with self._lock:
            try:
                self._rescue_if_deleted()
            except OSError as exc:
                raise SpoolUnwritable(f"cannot write to the spool {self.dir}: {exc.strerror or exc}") from exc
            start = None
            try:
                if self._size() + len(record) > self.max_bytes:
                    raise SpoolFull(f"spool {self.dir} is full ({self.max_bytes} bytes)")
                if self._write_fh is None or self._write_fh.tell() >= self.segment_bytes:
                    self._open_segment()
                fh = self._write_fh
                assert fh is not None
                start = fh.tell()
                view = memoryview(record)
                while view:
                    view = view[fh.write(view) :]  # a raw file may write less than asked (disk full)
                os.fsync(fh.fileno())
            except OSError as exc:
                self._undo_append(start)
                raise SpoolUnwritable(f"cannot write to the spool {self.dir}: {exc.strerror or exc}") from exc

    def _undo_append(self, start: int | None) -> None:
        """Cut the segment back to ``start``; if even that fails, close it, so that the torn record
        is at the end of its segment and the next append starts a new one."""
        fh = self._write_fh
        if fh is None:
            return
        try:
            if start is None:
                raise OSError("no position to cut back to")
            os.ftruncate(fh.fileno(), start)
            fh.seek(start)
            os.fsync(fh.fileno())
        except OSError as exc:
            log.error("spool %s: cannot cut back a failed append (%s); starting a new segment", self.dir, exc)
            self._close_segment()

    def _close_segment(self) -> None:
        if self._write_fh is not None:
            try:
                self._write_fh.close()
            except OSError:
                pass
            self._write_fh = None

    def _rescue_if_deleted(self) -> None:
        """The open segment was deleted under us (an operator's ``rm``, a clean-up job, the folder
        removed): appends went on into the deleted file, fsync'ed and acknowledged, and were lost with
        it at the next replay. Copy what the deleted file still holds into a new segment; the deleted
        one stays open until the copy is on disk (raises :class:`OSError` when it cannot be made)."""
        old, old_seg = self._write_fh, self._write_seg
        if old is None or os.fstat(old.fileno()).st_nlink > 0:
            return
        data = os.pread(old.fileno(), old.tell(), 0)
        self._write_fh = None
        try:
            self._open_segment()
            fh = self._write_fh
            assert fh is not None
            view = memoryview(data)
            while view:
                view = view[fh.write(view) :]
            os.fsync(fh.fileno())
        except OSError:
            new = self._write_fh
            if new is not None:
                try:
                    os.ftruncate(new.fileno(), 0)  # an empty segment is harmless; half a copy is not
                    new.close()
                except OSError:
                    pass
            self._write_fh, self._write_seg = old, old_seg  # the next append tries again
            raise
        old.close()
        log.error("spool %s: the segment %s was deleted while in use (by something other than Foreshock); its %d "
                  "bytes of acknowledged batches were copied to %s", self.dir,
                  self._path(old_seg).name if old_seg is not None else "?", len(data),
                  self._path(self._write_seg).name if self._write_seg is not None else "?")

    def _open_segment(self) -> None:
        self._close_segment()
        if not self.dir.exists():  # (a file in its place is an error of its own: 'Not a directory')
            log.error("spool %s: the folder was deleted while in use (by something other than Foreshock); making "
                      "it again", self.dir)
            self.dir.mkdir(parents=True, exist_ok=True)
        # Never the cursor's segment number: a cursor left behind by a crash (between deleting a
        # replayed segment and resetting it) would otherwise skip the start of the new segment.
        self._write_seg = max([*self._segment_files(), self._cursor()[0]]) + 1
        path = self._path(self._write_seg)
        # read and append: a segment deleted while open can still be read back (_rescue_if_deleted)
        self._write_fh = open(path, "a+b", buffering=0)  # noqa: SIM115 - kept open across appends
        self._write_fh.seek(0, os.SEEK_END)
        dir_fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # -- replay --------------------------------------------------------------------------------

    def replay(self, write: Callable[[list[Point]], None], max_records: int | None = None,
               should_stop: Callable[[], bool] | None = None) -> int:
        """Hand spooled batches to ``write`` oldest first; returns the number of points replayed.

        Stops at (and re-raises) the first exception of ``write``; that batch stays spooled.
        Corrupt records are moved aside (:meth:`_quarantine`) and the replay goes on after them.
        ``should_stop`` is asked before each record (the service is stopping: the rest stays spooled).
        A position that cannot be saved, or a replayed segment that cannot be deleted (the spool's
        disk full or read-only), does not stop the replay.
        """
        replayed = records = 0
        self._cursor_warned = False
        with self._lock:
            self._rescue_if_deleted()
            self._close_segment()  # new appends go to a fresh segment
            for seg in self._segments():
                cur_seg, offset = self._cursor()
                offset = offset if cur_seg == seg else 0
                path = self._path(seg)
                with open(path, "rb") as fh:
                    size = os.fstat(fh.fileno()).st_size
                    while offset < size:
                        if max_records is not None and records >= max_records:
                            return replayed
                        if should_stop is not None and should_stop():
                            return replayed
                        blob = _read_record(fh, offset, size)
                        points = None
                        if blob is not None:
                            try:
                                points = _decode(blob)
                            except (ValueError, TypeError) as exc:  # a valid frame around unusable JSON
                                log.error("spool %s: record at %d cannot be decoded (%s)", path.name, offset,
                                          exc)
                        if points is None:
                            offset = self._quarantine(path, fh, offset, size, blob)
                            self._note_progress(seg, offset)
                            continue
                        write(points)
                        offset += _HEADER.size + len(blob)
                        replayed += len(points)
                        records += 1
                        self._note_progress(seg, offset)
                try:
                    path.unlink()
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    log.error("spool %s: cannot delete the replayed segment %s (%s); it is not replayed again "
                              "while this process runs (the next start replays it once more, harmlessly)",
                              self.dir, path.name, exc.strerror or exc)
                    self._done.add(seg)
                self._note_progress(0, 0)
        return replayed

    def _quarantine(self, path: Path, fh: BinaryIO, offset: int, size: int, blob: bytes | None) -> int:
        """Move the bad bytes at ``offset`` to ``corrupt/``; returns where the next valid record starts.

        A record that failed its check (``blob`` None) runs to the next offset where a valid record
        starts (its length cannot be trusted); one that only failed to decode, to its own end.
        """
        fh.seek(offset)
        rest = fh.read(size - offset)
        end = _HEADER.size + len(blob) if blob is not None else _next_record(rest)
        target = self.dir / "corrupt" / f"{path.stem}-at-{offset}.bad"
        try:
            target.parent.mkdir(exist_ok=True)
            with open(target, "wb") as out:
                out.write(rest[:end])
                out.flush()
                os.fsync(out.fileno())
            kept = f"moved to {target}"
        except OSError as exc:
            kept = f"NOT kept: cannot write {target}: {exc.strerror or exc}"
        log.error("spool %s: %d corrupt or torn bytes at %d (a crash during an append, or a bad disk) %s; "
                  "replaying on from the next valid record", path.name, end, offset, kept)
        return offset + end

    def close(self, timeout_s: float = 5.0) -> None:
        """Close the open segment; when an append or a replay still holds the spool after ``timeout_s``
        (a store that answers slowly), leave it: what it writes is fsync'ed or cut back by itself."""
        if not self._lock.acquire(timeout=timeout_s):
            log.warning("spool %s still in use after %.0f s; not closed", self.dir, timeout_s)
            return
        try:
            self._close_segment()
        finally:
            self._lock.release()


def _read_record(fh: BinaryIO, offset: int, size: int) -> bytes | None:
    """The JSON of the record at ``offset``, or ``None`` when it is torn or fails its CRC.

    A length running past the end of the segment is not read (a torn header's length may be any
    number up to 4 GiB: reading it allocated that much).
    """
    fh.seek(offset)
    header = fh.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    length, crc = _HEADER.unpack(header)
    # No record is empty (a batch is at least "[]"); eight zero bytes, as a power loss leaves at the end
    # of a file being appended to (ext4, XFS), would pass the check (the CRC-32 of nothing is 0).
    if length == 0 or length > size - offset - _HEADER.size:
        return None
    blob = fh.read(length)
    return blob if len(blob) == length and zlib.crc32(blob) == crc else None


def _next_record(data: bytes) -> int:
    """The first offset after 0 in ``data`` where a record with a valid length and CRC starts, or its length.

    A length's first byte is 0 for records under 16 MiB, and the JSON holds no 0 byte, so the
    scan jumps from one 0 byte to the next.
    """
    view = memoryview(data)
    n = len(data)
    top = max(n - _HEADER.size, 0) >> 24  # the largest first byte a length that fits can have
    pos = 1
    while pos <= n - _HEADER.size:
        if data[pos] > top:
            nxt = data.find(b"\x00", pos + 1) if top == 0 else pos + 1
            if nxt < 0:
                break
            pos = nxt
            continue
        length, crc = _HEADER.unpack_from(data, pos)
        body = pos + _HEADER.size
        if 0 < length <= n - body and zlib.crc32(view[body : body + length]) == crc:
            return pos
        pos += 1
    return n
