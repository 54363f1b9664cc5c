"""A bounded on-disk spool for point batches while the telemetry store is down.

Append-only segment files (``seg-<n>.spool``) of framed records: ``length (4 bytes, big endian) |
crc32 (4) | JSON``; every append is fsync'ed before it returns, so a spooled batch may be
acknowledged to the broker. Replay reads records oldest first and hands them to a writer; a
segment is deleted once all its records were written, and the read position inside the oldest
segment is kept in ``cursor`` (fsync'ed), so a restart replays at most one record twice, which
the store's idempotent writes make harmless. A torn record at the end of a segment (crash during
an append) is detected by its length/CRC and skipped with a warning.

When an append would take the spool past ``max_bytes`` it raises :class:`SpoolFull`: ingest then
stops acknowledging and the broker keeps the messages.

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

__all__ = ["Spool", "SpoolFull"]

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">II")


class SpoolFull(RuntimeError):
    """The spool has no room for this batch."""


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
        self._write_fh: BinaryIO | None = None
        self._write_seg: int | None = None

    # -- state ---------------------------------------------------------------------------------

    def _segments(self) -> list[int]:
        return sorted(int(p.stem[4:]) for p in self.dir.glob("seg-*.spool") if p.stem[4:].isdigit())

    def _path(self, seg: int) -> Path:
        return self.dir / f"seg-{seg:010d}.spool"

    def _cursor(self) -> tuple[int, int]:
        try:
            seg, offset = (self.dir / "cursor").read_text().split()
            return int(seg), int(offset)
        except (FileNotFoundError, ValueError):
            return 0, 0

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
        """Durably add one batch; raises :class:`SpoolFull` when it does not fit."""
        blob = _encode(points)
        record = _HEADER.pack(len(blob), zlib.crc32(blob)) + blob
        with self._lock:
            if self._size() + len(record) > self.max_bytes:
                raise SpoolFull(f"spool {self.dir} is full ({self.max_bytes} bytes)")
            if self._write_fh is None or self._write_fh.tell() >= self.segment_bytes:
                self._open_segment()
            fh = self._write_fh
            assert fh is not None
            fh.write(record)
            fh.flush()
            os.fsync(fh.fileno())

    def _open_segment(self) -> None:
        if self._write_fh is not None:
            self._write_fh.close()
        segments = self._segments()
        self._write_seg = (segments[-1] + 1) if segments else 1
        self._write_fh = open(self._path(self._write_seg), "ab")  # noqa: SIM115 - kept open across appends
        dir_fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # -- replay --------------------------------------------------------------------------------

    def replay(self, write: Callable[[list[Point]], None], max_records: int | None = None) -> int:
        """Hand spooled batches to ``write`` oldest first; returns the number of points replayed.

        Stops at (and re-raises) the first exception of ``write``; that batch stays spooled.
        """
        replayed = records = 0
        with self._lock:
            if self._write_fh is not None:  # new appends go to a fresh segment
                self._write_fh.close()
                self._write_fh = None
            for seg in self._segments():
                cur_seg, offset = self._cursor()
                offset = offset if cur_seg == seg else 0
                path = self._path(seg)
                with open(path, "rb") as fh:
                    fh.seek(offset)
                    while True:
                        if max_records is not None and records >= max_records:
                            return replayed
                        header = fh.read(_HEADER.size)
                        if not header:
                            break
                        if len(header) < _HEADER.size:
                            log.warning("spool %s: torn record header at %d, skipped", path.name, offset)
                            break
                        length, crc = _HEADER.unpack(header)
                        blob = fh.read(length)
                        if len(blob) < length or zlib.crc32(blob) != crc:
                            log.warning("spool %s: torn or corrupt record at %d, skipped", path.name, offset)
                            break
                        points = _decode(blob)
                        write(points)
                        offset += _HEADER.size + length
                        replayed += len(points)
                        records += 1
                        self._save_cursor(seg, offset)
                path.unlink()
                self._save_cursor(0, 0)
        return replayed

    def close(self) -> None:
        with self._lock:
            if self._write_fh is not None:
                self._write_fh.close()
                self._write_fh = None
