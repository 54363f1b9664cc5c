"""Import and export units as CSV.

Columns (header required, any order; only ``device_id`` is mandatory, missing columns are empty)::

    device_id,model,customer,site,install_date,firmware,warranty_end,batch,tags

Dates are ISO (``2025-03-31``); tags are separated by ``;``. A row is the whole record of a unit:
an existing unit is updated to match the row exactly (an empty cell clears that field), a new one
is created. Import is all-or-nothing: every bad row is reported, with its line number and the
field at fault, and nothing is imported if any row is bad. Serial numbers are the same whatever their
letter case: a row whose serial is registered, or given on an earlier line, in another case is a bad row.

An export that includes decommissioned units adds a column ``decommissioned_at``. An import never
changes whether a unit is in service: a row for a decommissioned unit needs its
``decommissioned_at`` (it then updates the record, which stays out of service; a new unit is created
decommissioned), and a ``decommissioned_at`` for a unit in service is refused.

>>> import io
>>> rows, errors = parse_units(io.StringIO("device_id,customer,install_date\\nP-1,ACME,2025-02-30\\n"))
>>> [(e.line, e.field) for e in errors]
[(2, 'install_date')]
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, TYPE_CHECKING

from devices.errors import InvalidInput, RegistryError
from devices.mapping import no_such_model
from devices.models import Unit
from devices.query import UnitFilter
from devices.schemas import UnitIn, check_device_id, validate
from devices.serials import serial_key
from foreshock.csvcell import from_cell, to_cell

if TYPE_CHECKING:
    from devices.registry import Registry

__all__ = ["COLUMNS", "DECOMMISSIONED", "RowError", "CsvImportError", "decode_csv", "parse_units", "import_units", "export_units"]

log = logging.getLogger(__name__)

COLUMNS = ("device_id", "model", "customer", "site", "install_date", "firmware", "warranty_end", "batch", "tags")
DECOMMISSIONED = "decommissioned_at"  # written by an export of decommissioned units too (--all), read back
MAX_ROWS = 1_000_000
PROGRESS_EVERY = 1000  # rows: an import this large says how far it is


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.problem}"


class CsvImportError(RegistryError):
    """The file has bad rows; ``errors`` lists every one. Nothing was imported."""

    def __init__(self, errors: list[RowError]) -> None:
        shown = "\n  ".join(str(e) for e in errors[:50])
        more = f"\n  ... and {len(errors) - 50} more" if len(errors) > 50 else ""
        super().__init__(f"{len(errors)} bad row(s), nothing imported:\n  {shown}{more}")
        self.errors = errors


def decode_csv(data: bytes) -> str:
    """The text of a CSV file's bytes: UTF-8, with or without the BOM spreadsheets write.

    Anything else raises :class:`CsvImportError` naming the line and byte, so that a file saved
    in a legacy encoding (Latin-1 'ä' is byte 0xe4) is not reported as a bad header.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        bad = data[exc.start : exc.start + 1].hex()
        raise CsvImportError([RowError(line, "file", f"not UTF-8 text (byte 0x{bad} at position {exc.start}); "
                                                     "save the CSV as UTF-8 ('CSV UTF-8' in spreadsheet programs)")]
                             ) from None


@dataclass(frozen=True)
class _Row:
    line: int
    device_id: str
    unit: UnitIn
    decommissioned_at: datetime | None


def _when(text: str) -> datetime:
    """A ``decommissioned_at`` cell: an ISO date or date and time (UTC when it names no offset)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(DECOMMISSIONED, f"expected an ISO date or date and time (2026-11-22 or "
                                           f"2026-11-22T09:30:00+00:00), got {text!r}") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def parse_units(
    fh: IO[str], known_models: Iterable[str] | None = None
) -> tuple[list[tuple[str, UnitIn]], list[RowError]]:
    """Validate every row of ``fh``; returns the good rows and every problem found."""
    rows, errors = _parse_rows(fh, known_models)
    return [(r.device_id, r.unit) for r in rows], errors


def _parse_rows(fh: IO[str], known_models: Iterable[str] | None) -> tuple[list[_Row], list[RowError]]:
    reader = csv.DictReader(fh)
    try:
        header = reader.fieldnames
    except (csv.Error, UnicodeDecodeError) as exc:
        return [], [RowError(1, "header", f"cannot be read: {exc}")]
    if not header:
        return [], [RowError(1, "header", "the file is empty; expected a header line: " + ",".join(COLUMNS))]
    raw_header = [h.strip() for h in header]
    header = [h.lower() for h in raw_header]  # an ERP's "Device_ID" or "MODEL" is the column meant
    reader.fieldnames = header
    if len(header) == 1 and header[0].count(";") >= 1 and header[0].split(";")[0].strip() in COLUMNS:
        # spreadsheet programs in many locales save "CSV" with semicolons
        return [], [RowError(1, "header", "the columns are separated by ';': save the file as comma-separated "
                                          "CSV (tags stay ';'-separated inside their cell)")]
    errors = [RowError(1, raw or "(empty)", f"unknown column; expected some of {', '.join((*COLUMNS, DECOMMISSIONED))}")
              for h, raw in zip(header, raw_header) if h not in COLUMNS and h != DECOMMISSIONED]
    if "device_id" not in header:
        errors.append(RowError(1, "device_id", "required column is missing"))
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        errors.append(RowError(1, "header", f"column{'s' if len(twice) > 1 else ''} {', '.join(twice)} "
                                            f"appear{'' if len(twice) > 1 else 's'} twice (letter case aside)"))
    if errors:
        return [], errors
    models = set(known_models) if known_models is not None else None
    rows: list[_Row] = []
    first_line: dict[str, tuple[int, str]] = {}  # serial key -> (line, serial as written there)
    line = 1
    try:
        for record in reader:
            line = reader.line_num
            if len(rows) + len(errors) >= MAX_ROWS:
                errors.append(RowError(line, "file", f"more than {MAX_ROWS} rows"))
                break
            if None in record:
                errors.append(RowError(line, "row", f"more cells than the {len(header)} columns of the header"))
                continue
            short = [k for k, v in record.items() if v is None]  # (DictReader's filler for cells not there)
            if short and any((v or "").strip() for v in record.values()):
                have = len(header) - len(short)
                errors.append(RowError(line, "row", f"{have} cell{'s' if have != 1 else ''} for the {len(header)} "
                                                    f"columns of the header (no {', '.join(short)}): a comma missing? "
                                                    "Give every column its cell, empty if need be"))
                continue
            cells = {k: from_cell((v or "").strip()) for k, v in record.items()}  # undo export's apostrophe
            if not any(cells.values()):
                continue  # blank line
            if [(record.get(k) or "").strip().lower() for k in header] == header:
                # two exports joined into one file: "device_id" is a valid serial, and the row made a unit of it
                errors.append(RowError(line, "row", "repeats the header line (two files joined into one?); remove it"))
                continue
            device_id = cells.pop("device_id")
            when_text = cells.pop(DECOMMISSIONED, "")
            try:
                check_device_id(device_id)
            except InvalidInput as exc:
                errors.append(RowError(line, exc.field, exc.problem))
                continue
            if (seen := first_line.get(serial_key(device_id))) is not None:
                as_written = "" if seen[1] == device_id else (
                    f" as {seen[1]!r} (serial numbers are the same whatever their letter case)")
                errors.append(RowError(line, "device_id",
                                       f"{device_id!r} already appears on line {seen[0]}{as_written}"))
                continue
            first_line[serial_key(device_id)] = (line, device_id)
            data: dict[str, object] = {k: (v or None) for k, v in cells.items()}
            if "tags" in data:
                data["tags"] = [t.strip() for t in (cells["tags"] or "").split(";") if t.strip()]
            try:
                unit = validate(UnitIn, data)
                when = _when(when_text) if when_text else None
            except InvalidInput as exc:
                errors.append(RowError(line, exc.field, exc.problem))
                continue
            if models is not None and unit.model is not None and unit.model not in models:
                errors.append(RowError(line, "model", no_such_model(unit.model, models)))
                continue
            rows.append(_Row(line, device_id, unit, when))
    except (csv.Error, UnicodeDecodeError) as exc:
        errors.append(RowError(line + 1, "row", f"not valid CSV: {exc}"))
    return rows, errors


def import_units(registry: Registry, fh: IO[str], progress: Callable[[str], None] | None = None) -> tuple[int, int]:
    """Import a CSV of units, all or nothing; returns ``(created, updated)`` (with ``.unchanged``: how
    many of the updated units were already as their rows say, see :class:`devices.registry.UpsertCounts`).

    Raises :class:`CsvImportError` listing every bad row. ``progress`` is told how far an import of
    more than :data:`PROGRESS_EVERY` rows is (a line of text every that many rows).
    """
    from devices.registry import check_service_state

    rows, errors = _parse_rows(fh, known_models=[m.name for m in registry.list_models()])
    twins = registry.case_twins([r.device_id for r in rows])
    for r in rows:
        if r.device_id in twins:
            errors.append(RowError(r.line, "device_id",
                                   f"{r.device_id!r} is registered as {twins[r.device_id]!r}: serial numbers are "
                                   "the same whatever their letter case; write the serial as registered"))
    rows = [r for r in rows if r.device_id not in twins]
    states = registry.service_states([r.device_id for r in rows])
    for r in rows:
        if r.device_id in states:
            try:
                check_service_state(r.device_id, states[r.device_id], r.decommissioned_at is not None)
            except InvalidInput as exc:
                errors.append(RowError(r.line, exc.field, exc.problem))
    if errors:
        raise CsvImportError(sorted(errors, key=lambda e: e.line))
    total = len(rows)
    say = progress if total >= PROGRESS_EVERY else None
    if say is not None:
        say(f"{total} rows checked, importing")

    def applied(done: int, _total: int) -> None:
        if say is not None and (done % PROGRESS_EVERY == 0 or done == total):
            say(f"{done}/{total} units" + ("; committing" if done == total else ""))

    counts = registry.upsert_units(
        [(r.device_id, r.unit) for r in rows],
        decommissioned={r.device_id: r.decommissioned_at for r in rows if r.decommissioned_at is not None},
        progress=applied,
    )
    log.info("CSV import: %d units created, %d updated (%d unchanged)", *counts, counts.unchanged)
    return counts


def _utc_text(when: datetime | None) -> str:
    """ISO time in UTC with its offset, on every database (SQLite hands back naive UTC times)."""
    if when is None:
        return ""
    return (when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)).isoformat()


def _row(unit: Unit, with_decommissioned: bool = False) -> list[str]:
    extra = [_utc_text(unit.decommissioned_at)] if with_decommissioned else []
    return [
        unit.device_id,
        unit.model_name or "",
        unit.customer or "",
        unit.site or "",
        unit.install_date.isoformat() if unit.install_date else "",
        unit.firmware or "",
        unit.warranty_end.isoformat() if unit.warranty_end else "",
        unit.batch or "",
        ";".join(unit.tags or []),
        *extra,
    ]


def export_units(registry: Registry, fh: IO[str] | None = None, filt: UnitFilter | None = None) -> str | int:
    """Write the units matching ``filt`` (default: all in service) as CSV to ``fh``; returns the row
    count, or the CSV text when ``fh`` is None. When ``filt`` includes decommissioned units, a column
    ``decommissioned_at`` says which are, so that the file imports back with them out of service."""
    filt = filt or UnitFilter()
    buffer = io.StringIO() if fh is None else None
    writer = csv.writer(fh if fh is not None else buffer, lineterminator="\n")  # type: ignore[arg-type]
    writer.writerow(COLUMNS + ((DECOMMISSIONED,) if filt.include_decommissioned else ()))
    units = registry.list_units(filt)
    for unit in units:
        # a firmware "=HYPERLINK(...)" stays text
        writer.writerow([to_cell(cell) for cell in _row(unit, filt.include_decommissioned)])
    return buffer.getvalue() if buffer is not None else len(units)
