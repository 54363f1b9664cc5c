"""A unit's time series (telemetry, vibration features, health) and its latest spectra."""

from __future__ import annotations

import math
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import ContextDep, Viewer
from api.errors import ServiceMissing
from api.routes.units import registry_of, unit_serial

router = APIRouter(prefix="/units", tags=["telemetry"])

DAY_MS = 86_400_000
MAX_RANGE_MS = 400 * DAY_MS
FIELD = r"^[a-z][a-z0-9_]{0,63}$"


class Series(BaseModel):
    device_id: str
    measurement: str
    start_ms: int
    end_ms: int
    every_ms: int | None
    ts_ms: list[int]
    fields: dict[str, list[float | str | None]]
    absent: list[str] = Field(default_factory=list, description=(
        "requested fields with no value in the range (a field this unit does not send, or quiet here)"))
    available: list[str] | None = Field(None, description="when some are absent: the fields the unit has in the range")


class Markers(BaseModel):
    label: str
    kind: str
    freq_hz: float


class Spectra(BaseModel):
    device_id: str
    ts: float
    fs: float
    n: int
    axis: str
    rpm: float | None
    shaft_hz: float | None
    velocity_rms_mm_s: float | None
    spectrum: dict[str, Any]
    envelope: dict[str, Any]
    markers: list[Markers]
    zone_limits_mm_s: list[float] | None = None


@router.get("/{device_id}/series", response_model=Series, summary="A unit's series over a time range, downsampled")
def series(
    device_id: str, ctx: ContextDep, _: Viewer,
    measurement: Annotated[Literal["vibration", "telemetry", "health"], Query()] = "vibration",
    fields: Annotated[list[str] | None, Query(description="field names (default: all)", max_length=32)] = None,
    start_ms: Annotated[int | None, Query(ge=0, le=10**14, description="epoch ms (default: end - 7 days)")] = None,
    end_ms: Annotated[int | None, Query(ge=0, le=10**14, description="epoch ms (default: now)")] = None,
    points: Annotated[int, Query(ge=10, le=5000, description="about how many points to return")] = 500,
    every_ms: Annotated[int | None, Query(ge=1000, le=DAY_MS * 30, description="window (default: from points)")] = None,
) -> dict:
    import re

    if ctx.store is None:
        raise ServiceMissing("the telemetry store")
    for f in fields or []:
        if not re.fullmatch(FIELD, f):
            raise ValueError(f"bad field name {f!r}: lower-case letters, digits and '_', starting with a letter")
    end = end_ms if end_ms is not None else int(time.time() * 1000) + 60_000
    start = start_ms if start_ms is not None else end - 7 * DAY_MS
    if start >= end:
        raise ValueError(f"start_ms ({start}) must be before end_ms ({end})")
    if end - start > MAX_RANGE_MS:
        raise ValueError(f"the range is {(end - start) / DAY_MS:.0f} days; at most {MAX_RANGE_MS // DAY_MS} days")
    device_id = unit_serial(ctx, device_id)  # p-0002 is unit P-0002, whose series are stored as registered
    every = every_ms or max(1000, math.ceil((end - start) / points / 1000) * 1000)
    rows = ctx.store.query(measurement, device_id, start, end, fields or None, every_ms=every, limit=points * 2 + 10)
    absent, available = _absent_fields(ctx, measurement, device_id, start, end, every, fields, rows) if fields else ([], None)
    names = list(fields or sorted({k for r in rows for k in r.fields}))
    cols: dict[str, list[Any]] = {n: [] for n in names}
    for r in rows:
        for n in names:
            v = r.fields.get(n)
            cols[n].append(None if isinstance(v, float) and not math.isfinite(v) else v)
    return {"device_id": device_id, "measurement": measurement, "start_ms": start, "end_ms": end,
            "every_ms": every, "ts_ms": [r.ts_ms for r in rows], "fields": cols, "absent": absent,
            "available": available}


def _absent_fields(ctx: Any, measurement: str, device_id: str, start: int, end: int, every: int,
                   fields: list[str], rows: list[Any]) -> tuple[list[str], list[str] | None]:
    """The requested fields with no value in the range and, if any, the fields the unit does have
    there: a misspelt field comes back named beside the real ones instead of as a silent empty
    column (still a 200, as a field that is only quiet in this range must be)."""
    present = {k for r in rows for k, v in r.fields.items() if v is not None}
    absent = [f for f in fields if f not in present]
    if not absent:
        return [], None
    probe = ctx.store.query(measurement, device_id, start, end, None, every_ms=every, limit=20)
    return absent, sorted({k for r in probe for k in r.fields})


@router.get("/{device_id}/spectrum", response_model=Spectra,
            summary="Spectrum and envelope spectrum of the latest snapshot, with 1×/2× and BPFO/BPFI/BSF/FTF markers")
def spectrum(
    device_id: str, ctx: ContextDep, _: Viewer,
    max_points: Annotated[int, Query(ge=100, le=20000)] = 2000,
    envelope_max_hz: Annotated[float, Query(gt=0, le=20000, allow_inf_nan=False)] = 1000.0,
) -> dict:
    from api.spectra import spectra

    reg = registry_of(ctx)
    device_id = unit_serial(ctx, device_id)
    snap = ctx.latest_snapshots.get(device_id)
    if snap is None:
        raise LookupError(f"no vibration snapshot of unit {device_id!r} has been received yet")
    machine = reg.machine_info(device_id)
    out = spectra(snap, machine, max_points=max_points, envelope_max_hz=envelope_max_hz)
    if machine is not None:
        from detectors.iso import zone_limits

        out["zone_limits_mm_s"] = list(zone_limits(machine.iso_group, machine.foundation, machine.zone_limits_mm_s))
    return {"device_id": device_id, **out}
