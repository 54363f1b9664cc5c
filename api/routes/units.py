"""Units (sold machines, by serial number): list with health, detail, create, change, decommission and
re-commission, CSV import.

Changes go through the devices registry; health comes from the detection stage's latest assessment.
"""

from __future__ import annotations

import io
import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from api.deps import Admin, ContextDep, Engineer, PageDep, SessionDep, Viewer
from api.errors import ServiceMissing
from api.health_view import HEALTH_STATES, health_index, latest_health
from api.schemas import ListPublic
from devices.protocol import now_ms

router = APIRouter(prefix="/units", tags=["units"])
devices_router = APIRouter(prefix="/devices", tags=["units"])

Sort = Literal["device_id", "health", "ttf"]


class Health(BaseModel):
    state: str = "unknown"
    ts: float | None = Field(None, description="when the assessed data was measured: epoch **seconds** (the device "
                                               "protocol's ts is milliseconds)")
    failure_mode: str | None = None
    confidence: float | None = None
    ttf_s: float | None = Field(None, description="estimated time to failure in seconds, as of `ts` (not of now: "
                                                  "count down from `failure_due_at`); 0: the alarm limit is reached")
    ttf_low_s: float | None = Field(None, description="the low end of its likely range, as of `ts`")
    ttf_high_s: float | None = Field(None, description="the high end of its likely range, as of `ts`")
    failure_due_at: str | None = Field(None, description="when the time to failure runs out: `ts` + `ttf_s`, ISO 8601 "
                                                         "in UTC (the time left is this minus now; past: overdue, "
                                                         "as of the assessment); null without an estimate")
    failure_due_low_at: str | None = Field(None, description="`ts` + `ttf_low_s`, ISO 8601 in UTC")
    failure_due_high_at: str | None = Field(None, description="`ts` + `ttf_high_s`, ISO 8601 in UTC")
    reasons: list[str] = []
    sensor_fault: str | None = None
    features: dict[str, Any] = {}
    evidence: list[dict[str, Any]] = []
    updated_at: str | None = None


class UnitPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    device_id: str
    model: str | None = None
    customer: str | None = None
    site: str | None = None
    firmware: str | None = None
    batch: str | None = None
    tags: list[str] = []
    install_date: str | None = None
    warranty_end: str | None = None
    auto_registered: bool = False
    decommissioned: bool = False
    presence: str = "unknown"
    last_seen_ms: int | None = None
    silent: bool = Field(False, description="nothing seen from it for longer than its model's reporting interval "
                                            "times devices.silent_after_intervals (the deadman: 'unit silent'), "
                                            "whatever presence says (a broker that cut it off without its will)")
    silent_for_s: float | None = Field(None, description="how long it has been silent (null: it is not)")
    health: Health = Health()
    zone_limits_mm_s: list[float] | None = Field(None, description="ISO 20816 A/B, B/C, C/D (unit detail only)")
    detector_thresholds: dict[str, Any] | None = Field(
        None, description="(unit detail only) how much field feedback raised this unit's detector thresholds: "
                          "factor (1 = unchanged), false_alarms and real_faults counted over window_d days, and "
                          "a sentence")
    seq_missing: int | None = Field(
        None, description="(unit detail only) messages of this unit lost before Foreshock received them, counted "
                          "from the gaps in its seq (unit buffer, broker queue limit, QoS 0); null: not known yet")
    relearn: dict[str, Any] | None = Field(
        None, description="(unit detail only) the latest request to relearn its detector baseline (POST "
                          "/units/{id}/relearn): requested_at, accept_current, by, reason, and applied (whether the "
                          "unit's detectors have started from it); null: never asked")


class UnitCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: str = Field(min_length=1, max_length=64, description="serial number = MQTT device id")
    model: str | None = Field(None, max_length=64)
    customer: str | None = Field(None, max_length=200)
    site: str | None = Field(None, max_length=200)
    firmware: str | None = Field(None, max_length=64)
    batch: str | None = Field(None, max_length=64)
    install_date: str | None = Field(None, description="YYYY-MM-DD")
    warranty_end: str | None = Field(None, description="YYYY-MM-DD")
    tags: list[str] | None = None


class UnitUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, max_length=64)
    customer: str | None = Field(None, max_length=200)
    site: str | None = Field(None, max_length=200)
    firmware: str | None = Field(None, max_length=64)
    batch: str | None = Field(None, max_length=64)
    install_date: str | None = None
    warranty_end: str | None = None
    tags: list[str] | None = None


class RelearnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accept_current: StrictBool = Field(False, description="the defect lines the unit shows now are its normal (a frame "
                                                    "resonance a technician has judged): the commissioning check "
                                                    "warns only on a line growing family_db above them")
    reason: str = Field("", max_length=500, description="why (shown in the unit's health until the baseline is "
                                                        "learnt): a new bearing, a realignment")


class RelearnPublic(BaseModel):
    device_id: str
    requested_at: str = Field(description="when (ISO 8601, UTC); the detection stage applies the request with the "
                                          "unit's next message, within seconds, once")
    accept_current: bool
    by: str | None = None
    reason: str | None = None


class ImportResult(BaseModel):
    created: int
    updated: int


def registry_of(ctx) -> Any:
    if ctx.registry is None:
        raise ServiceMissing("the devices registry")
    return ctx.registry


def unit_serial(ctx, device_id: str) -> str:
    """The serial as registered of the unit ``device_id`` names in any letter case: ``p-0002`` typed by a
    service technician is unit ``P-0002`` (serial numbers are the same whatever their letter case,
    docs/devices.md). A 404 naming ``device_id`` when no unit has it; a 400 when it matches several
    units in other cases (a database from before that rule: give it as registered)."""
    return registry_of(ctx).registered_serial(device_id)


def serial_filter(ctx, device_id: str | None) -> str | None:
    """A list's ``device_id`` filter as registered when a unit has that serial in another letter case,
    else as given (a serial no unit has filters to an empty list, not an error)."""
    if device_id is None or getattr(ctx, "registry", None) is None:
        return device_id
    return ctx.registry.registered_serials([device_id]).get(device_id, device_id)


def unit_public(unit: Any, health: dict[str, Any] | None, silent_for_s: float | None = None) -> dict[str, Any]:
    return {
        "silent": silent_for_s is not None, "silent_for_s": silent_for_s,
        "device_id": unit.device_id, "model": unit.model_name, "customer": unit.customer, "site": unit.site,
        "firmware": unit.firmware, "batch": unit.batch, "tags": list(unit.tags or []),
        "install_date": unit.install_date.isoformat() if unit.install_date else None,
        "warranty_end": unit.warranty_end.isoformat() if unit.warranty_end else None,
        "auto_registered": bool(unit.auto_registered), "decommissioned": unit.decommissioned_at is not None,
        "presence": unit.presence, "last_seen_ms": unit.last_seen_ms, "health": health or {"state": "unknown"},
    }


def _sort_key(sort: Sort, index: dict[str, tuple[str, float | None]]):
    """Sort key of a device id, from its (state, failure due time) in ``index``."""
    order = {s: i for i, s in enumerate(HEALTH_STATES)}

    def state(d: str) -> int:
        return -order.get(index.get(d, ("unknown", None))[0], 0)

    if sort == "health":
        return lambda d: (state(d), d)
    if sort == "ttf":  # earliest due first (the time to failure counted from its assessment); no estimate last
        def due(d: str) -> float | None:
            return index.get(d, ("unknown", None))[1]

        return lambda d: (due(d) is None, due(d) if due(d) is not None else math.inf, state(d), d)
    return lambda d: d


def _list(ctx, session, pg, customer, site, model, health, presence, sort) -> dict:
    """One page of units with their health. Only the page's units and assessments are read in full:
    in device-id order the database pages them; filtered or sorted by health, the (state, time to
    failure) of every matching unit is read first, then the page."""
    from devices.registry import UnitFilter

    reg = registry_of(ctx)
    filt = UnitFilter(model=model, customer=customer, site=site, presence=presence)
    if not health and sort == "device_id":
        count = reg.count_units(filt)
        ids = reg.unit_ids(UnitFilter(**{**filt.__dict__, "limit": pg.limit, "offset": pg.offset}))
    else:
        ids = reg.unit_ids(filt)
        index = health_index(session, ids, with_ttf=sort == "ttf")
        if health:
            ids = [d for d in ids if index.get(d, ("unknown", None))[0] == health]
        ids.sort(key=_sort_key(sort, index))
        count = len(ids)
        ids = ids[pg.offset: pg.offset + pg.limit]
    states = latest_health(session, ids)
    silent = {s.device_id: s.silent_for_s for s in reg.silent_units(now_ms())}
    return {"data": [unit_public(u, states.get(u.device_id), silent.get(u.device_id)) for u in reg.units_by_id(ids)],
            "count": count}


Customer = Annotated[str | None, Query(max_length=200)]
Site = Annotated[str | None, Query(max_length=200)]
ModelName = Annotated[str | None, Query(max_length=64, description="machine model name")]
HealthQ = Annotated[Literal["unknown", "healthy", "watch", "warning", "alarm"] | None, Query()]
PresenceQ = Annotated[Literal["unknown", "online", "offline"] | None, Query()]
SortQ = Annotated[Sort, Query(description="ttf: closest to failure first (earliest failure_due_at: a unit assessed "
                                          "hours ago has had those hours counted down); health: worst first")]


@router.get("", response_model=ListPublic[UnitPublic], summary="List units with their health")
def list_units(ctx: ContextDep, session: SessionDep, _: Viewer, pg: PageDep, customer: Customer = None,
               site: Site = None, model: ModelName = None, health: HealthQ = None, presence: PresenceQ = None,
               sort: SortQ = "device_id") -> dict:
    return _list(ctx, session, pg, customer, site, model, health, presence, sort)


@devices_router.get("", response_model=ListPublic[UnitPublic], summary="List units (alias of /units)")
def list_devices(ctx: ContextDep, session: SessionDep, _: Viewer, pg: PageDep, customer: Customer = None,
                 site: Site = None, model: ModelName = None, health: HealthQ = None, presence: PresenceQ = None,
                 sort: SortQ = "device_id") -> dict:
    return _list(ctx, session, pg, customer, site, model, health, presence, sort)


@router.get("/summary", summary="Fleet overview: units per health state")
def summary(ctx: ContextDep, session: SessionDep, _: Viewer, customer: Customer = None, site: Site = None,
            model: ModelName = None) -> dict[str, int]:
    from devices.registry import UnitFilter

    ids = registry_of(ctx).unit_ids(UnitFilter(model=model, customer=customer, site=site))
    index = health_index(session, ids)
    counts = {s: 0 for s in HEALTH_STATES}
    for d in ids:
        counts[index.get(d, ("unknown", None))[0]] += 1
    return counts


FACET_LIMIT = 1000


@router.get("/facets", summary="The customers and sites of the registered units (the fleet page's filter choices)")
def facets(session: SessionDep, _: Viewer) -> dict[str, list[str]]:
    """Distinct customers and sites, sorted (at most 1,000 of each): the fleet filters match them
    exactly, so the dashboard offers them as choices."""
    from sqlalchemy import select

    from devices.models import Unit

    def distinct(column) -> list[str]:
        stmt = (select(column).where(column.is_not(None), Unit.decommissioned_at.is_(None))
                .distinct().order_by(column).limit(FACET_LIMIT))
        return [v for v in session.scalars(stmt) if v]

    return {"customers": distinct(Unit.customer), "sites": distinct(Unit.site)}


@router.get("/export.csv", summary="All units as CSV",
            responses={200: {"content": {"text/csv": {}}, "description": "one row per unit"}})
def export_csv(ctx: ContextDep, _: Viewer) -> PlainTextResponse:
    from devices.csvio import export_units

    return PlainTextResponse(str(export_units(registry_of(ctx))), media_type="text/csv")


@router.post("/import", response_model=ImportResult, summary="Create or replace units from CSV (all or nothing)")
def import_csv(ctx: ContextDep, _: Admin,
               csv_body: Annotated[bytes, Body(media_type="text/csv")]) -> dict:
    # its size limit is the app's (api.max_import_body_bytes), enforced before the body is read
    from devices.csvio import import_units

    try:
        csv_text = csv_body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"body: not UTF-8 text (byte 0x{csv_body[exc.start]:02x} at position {exc.start}); "
                         "send the CSV saved as UTF-8 text") from None
    created, updated = import_units(registry_of(ctx), io.StringIO(csv_text))
    return {"created": created, "updated": updated}


@router.get("/{device_id}", response_model=UnitPublic, summary="One unit with its health")
def get_unit(device_id: str, ctx: ContextDep, session: SessionDep, _: Viewer) -> dict:
    device_id = unit_serial(ctx, device_id)
    reg = registry_of(ctx)
    unit = reg.require_unit(device_id)
    now = now_ms()
    presence = reg.presence(device_id, now)
    quiet = (now - presence.last_seen_ms) / 1000.0 if presence is not None and presence.silent else None
    out = unit_public(unit, latest_health(session, [device_id]).get(device_id), quiet)
    machine = reg.machine_info(device_id)
    if machine is not None:
        from detectors.iso import zone_limits

        out["zone_limits_mm_s"] = list(zone_limits(machine.iso_group, machine.foundation, machine.zone_limits_mm_s))
    if ctx.alerts is not None:
        out["detector_thresholds"] = _detector_thresholds(ctx.alerts, session, device_id)
    out["seq_missing"] = _seq_missing(ctx, session, device_id)
    from devices.registry import relearn_of

    relearn = relearn_of(unit)
    if relearn is not None:
        from devices.registry import epoch_s

        applied = _relearn_applied(ctx, session, device_id)
        relearn["applied"] = applied is not None and applied >= epoch_s(unit.relearn_requested_at) - 1e-3
    out["relearn"] = relearn
    return out


def _relearn_applied(ctx: Any, session: Any, device_id: str) -> float | None:
    """The time of the relearn request the unit's detectors last applied: from the running detection stage
    when this process has one, else from its saved detector state."""
    detection = getattr(ctx, "detection", None)
    if detection is not None and hasattr(detection, "relearn_applied"):
        return detection.relearn_applied(device_id)
    from foreshock.detection import relearn_in_saved_state
    from foreshock.models import DetectorState

    row = session.get(DetectorState, device_id)
    return relearn_in_saved_state(row.state_json) if row is not None else None


def _seq_missing(ctx: Any, session: Any, device_id: str) -> int | None:
    """Messages of the unit lost before Foreshock (``foreshock/seqgaps.py``): from the running detection
    stage when this process has one, else from its saved detector state."""
    detection = getattr(ctx, "detection", None)
    if detection is not None and hasattr(detection, "seq_missing"):
        return detection.seq_missing(device_id)
    from foreshock.models import DetectorState
    from foreshock.seqgaps import missing_in_saved_state

    row = session.get(DetectorState, device_id)
    return missing_in_saved_state(row.state_json) if row is not None else None


def _detector_thresholds(desk: Any, session: Any, device_id: str) -> dict[str, Any]:
    """The unit's detector threshold factor after field feedback (``AlertService.threshold_factor``) and the
    verdicts behind it: those on Foreshock's own warnings of this unit opened in the feedback window."""
    from sqlalchemy import select

    from alerts.models import Ticket
    from alerts.tickets import found_failure_mode

    factor = desk.threshold_factor(device_id)
    window_d = desk.config.feedback_window_d
    since = desk.clock() - window_d * 86400
    judged = list(session.scalars(select(Ticket).where(
        Ticket.device_id == device_id, Ticket.kind == "unit", Ticket.source == "proactive",
        Ticket.feedback_verdict.is_not(None), Ticket.opened_at >= since)))
    false_alarms = sum(1 for t in judged if found_failure_mode(t) is None)
    real = len(judged) - false_alarms

    def n(k: int, what: str) -> str:
        return f"{k} {what}{'' if k == 1 else 's'}"

    days = f"{window_d:g} days"
    if factor > 1:
        statement = (f"detector thresholds raised ×{factor:g} after {n(false_alarms, 'false alarm')}"
                     + (f" (and {n(real, 'warning')} of a real fault, each taking a step back)" if real else "")
                     + f" in {days}"
                     + (" (the most they are raised)" if factor >= desk.config.feedback_max_factor else ""))
    elif judged:
        statement = (f"detector thresholds unchanged: {n(false_alarms, 'false alarm')} and "
                     f"{n(real, 'warning')} of a real fault in {days}")
    else:
        statement = f"detector thresholds unchanged: no field feedback on this unit's warnings in {days}"
    return {"factor": round(factor, 4), "false_alarms": false_alarms, "real_faults": real, "window_d": window_d,
            "statement": statement}


@router.post("", response_model=UnitPublic, status_code=status.HTTP_201_CREATED, summary="Register a unit")
def create_unit(body: UnitCreate, ctx: ContextDep, _: Admin) -> dict:
    unit = registry_of(ctx).create_unit(body.device_id, **body.model_dump(exclude={"device_id"}, exclude_unset=True))
    return unit_public(unit, None)


@router.patch("/{device_id}", response_model=UnitPublic, summary="Change a unit")
def update_unit(device_id: str, body: UnitUpdate, ctx: ContextDep, session: SessionDep, _: Admin) -> dict:
    device_id = unit_serial(ctx, device_id)
    unit = registry_of(ctx).update_unit(device_id, **body.model_dump(exclude_unset=True))
    return unit_public(unit, latest_health(session, [device_id]).get(device_id))


@router.delete("/{device_id}", response_model=UnitPublic, summary="Decommission a unit (revokes its broker access)")
def decommission_unit(device_id: str, ctx: ContextDep, _: Admin) -> dict:
    return unit_public(registry_of(ctx).decommission(unit_serial(ctx, device_id)), None)


@router.post("/{device_id}/recommission", response_model=UnitPublic,
             summary="Put a decommissioned unit back in service (without a broker credential: provision it again)")
def recommission_unit(device_id: str, ctx: ContextDep, _: Admin) -> dict:
    return unit_public(registry_of(ctx).recommission(unit_serial(ctx, device_id)), None)


@router.post("/{device_id}/relearn", response_model=RelearnPublic,
             summary="Learn the unit's detector baseline afresh (after a repair; or accept its current defect lines)")
def relearn_unit(
    device_id: str, ctx: ContextDep, tok: Engineer,
    body: Annotated[RelearnIn | None, Body(description="all optional: without a body, the defaults")] = None,
) -> dict:
    from devices.registry import relearn_of

    body = body or RelearnIn()  # every field has a default: `curl -X POST …/relearn` asks for a plain relearn
    unit = registry_of(ctx).request_relearn(unit_serial(ctx, device_id), accept_current=body.accept_current,
                                            reason=body.reason, by=tok.name)
    return {"device_id": unit.device_id, **(relearn_of(unit) or {})}
