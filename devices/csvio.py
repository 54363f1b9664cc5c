"""Import and export units as CSV.

Columns (header required, any order; only ``device_id`` is mandatory, missing columns are empty)::

    device_id,model,customer,site,install_date,firmware,warranty_end,batch,tags

Dates are ISO (``2025-03-31``); tags are separated by ``;``. A row is the whole record of a unit:
an existing unit is updated to match the row exactly (an empty cell clears that field), a new one
is created. Import is all-or-nothing: every bad row is reported, with its line number and the
field at fault, and nothing is imported if any row is bad.

>>> import io
>>> rows, errors = parse_units(io.StringIO("device_id,customer,install_date\\nP-1,ACME,2025-02-30\\n"))
>>> [(e.line, e.field) for e in errors]
[(2, 'install_date')]
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from devices.errors import InvalidInput, RegistryError
from devices.models import Unit
from devices.query import UnitFilter
from devices.schemas import UnitIn, check_device_id, validate
from foreshock.csvcell import from_cell, to_cell

if TYPE_CHECKING:
    from devices.registry import Registry

__all__ = ["COLUMNS", "RowError", "CsvImportError", "decode_csv", "parse_units", "import_units", "export_units"]

log = logging.getLogger(__name__)

COLUMNS = ("device_id", "model", "customer", "site", "install_date", "firmware", "warranty_end", "batch", "tags")
MAX_ROWS = 1_000_000


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


def parse_units(
    fh: IO[str], known_models: Iterable[str] | None = None
) -> tuple[list[tuple[str, UnitIn]], list[RowError]]:
    """Validate every row of ``fh``; returns the good rows and every problem found."""
    reader = csv.DictReader(fh)
    try:
        header = reader.fieldnames
    except (csv.Error, UnicodeDecodeError) as exc:
        return [], [RowError(1, "header", f"cannot be read: {exc}")]
    if not header:
        return [], [RowError(1, "header", "the file is empty; expected a header line: " + ",".join(COLUMNS))]
    header = [h.strip() for h in header]
    reader.fieldnames = header
    if len(header) == 1 and header[0].count(";") >= 1 and header[0].split(";")[0].strip() in COLUMNS:
        # spreadsheet programs in many locales save "CSV" with semicolons
        return [], [RowError(1, "header", "the columns are separated by ';': save the file as comma-separated "
                                          "CSV (tags stay ';'-separated inside their cell)")]
    errors = [RowError(1, h or "(empty)", f"unknown column; expected some of {', '.join(COLUMNS)}")
              for h in header if h not in COLUMNS]
    if "device_id" not in header:
        errors.append(RowError(1, "device_id", "required column is missing"))
    if len(set(header)) != len(header):
        errors.append(RowError(1, "header", "a column appears twice"))
    if errors:
        return [], errors
    models = set(known_models) if known_models is not None else None
    rows: list[tuple[str, UnitIn]] = []
    first_line: dict[str, int] = {}
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
            cells = {k: from_cell((v or "").strip()) for k, v in record.items()}  # undo export's apostrophe
            if not any(cells.values()):
                continue  # blank line
            device_id = cells.pop("device_id")
            try:
                check_device_id(device_id)
            except InvalidInput as exc:
                errors.append(RowError(line, exc.field, exc.problem))
                continue
            if device_id in first_line:
                errors.append(RowError(line, "device_id", f"{device_id!r} already appears on line {first_line[device_id]}"))
                continue
            first_line[device_id] = line
            data: dict[str, object] = {k: (v or None) for k, v in cells.items()}
            if "tags" in data:
                data["tags"] = [t.strip() for t in (cells["tags"] or "").split(";") if t.strip()]
            try:
                unit = validate(UnitIn, data)
            except InvalidInput as exc:
                errors.append(RowError(line, exc.field, exc.problem))
                continue
            if models is not None and unit.model is not None and unit.model not in models:
                errors.append(RowError(line, "model", f"no machine model named {unit.model!r}"))
                continue
            rows.append((device_id, unit))
    except (csv.Error, UnicodeDecodeError) as exc:
        errors.append(RowError(line + 1, "row", f"not valid CSV: {exc}"))
    return rows, errors


def import_units(registry: Registry, fh: IO[str]) -> tuple[int, int]:
    """Import a CSV of units, all or nothing; returns ``(created, updated)``.

    Raises :class:`CsvImportError` listing every bad row.
    """
    rows, errors = parse_units(fh, known_models=[m.name for m in registry.list_models()])
    if errors:
        raise CsvImportError(errors)
    created, updated = registry.upsert_units(rows)
    log.info("CSV import: %d units created, %d updated", created, updated)
    return created, updated


def _row(unit: Unit) -> list[str]:
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
    ]


def export_units(registry: Registry, fh: IO[str] | None = None, filt: UnitFilter | None = None) -> str | int:
    """Write the units matching ``filt`` (default: all in service) as CSV to ``fh``; returns the row
    count, or the CSV text when ``fh`` is None."""
    buffer = io.StringIO() if fh is None else None
    writer = csv.writer(fh if fh is not None else buffer, lineterminator="\n")  # type: ignore[arg-type]
    writer.writerow(COLUMNS)
    units = registry.list_units(filt or UnitFilter())
    for unit in units:
        writer.writerow([to_cell(cell) for cell in _row(unit)])  # a firmware "=HYPERLINK(...)" stays text
    return buffer.getvalue() if buffer is not None else len(units)
