"""Maintenance windows: no alert is raised for a unit (or a whole site) inside one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from api.deps import ContextDep, PageDep, Service, Viewer
from api.routes.alerts import alerts_of
from api.routes.units import serial_filter
from api.schemas import ListPublic

router = APIRouter(prefix="/maintenance", tags=["alerts"])


# held as epoch seconds; given as those or as an ISO time (converted by WindowIn._epoch)
_Time = Annotated[float, Field(ge=0, le=1e11, allow_inf_nan=False), WithJsonSchema(
    {"anyOf": [{"type": "number", "minimum": 0, "maximum": 1e11}, {"type": "string", "format": "date-time"}]})]


class WindowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused, not ignored
    device_id: str | None = Field(None, min_length=1, max_length=128)
    site: str | None = Field(None, min_length=1, max_length=128)
    starts_at: _Time = Field(description="epoch seconds, or an ISO 8601 time with its offset (2026-11-22T06:00:00Z)")
    ends_at: _Time = Field(description="epoch seconds, or an ISO 8601 time with its offset")
    reason: str = Field("", max_length=300)

    @field_validator("starts_at", "ends_at", mode="before")
    @classmethod
    def _epoch(cls, v: object) -> object:
        """An ISO time becomes epoch seconds here, so a bad one gets one message, not one per type."""
        if isinstance(v, bool):  # pydantic would read false as 0.0
            raise ValueError(f"expected epoch seconds or an ISO 8601 time, got {v!r}")
        if isinstance(v, str):
            try:
                t = datetime.fromisoformat(v.strip().replace("Z", "+00:00").replace("z", "+00:00"))
            except ValueError:
                t = None
            if t is None or t.tzinfo is None:
                raise ValueError(f"expected epoch seconds or an ISO 8601 time with its offset "
                                 f"(2026-11-22T06:00:00Z), got {v!r}")
            return t.timestamp()
        return v

    @model_validator(mode="after")
    def _scope(self) -> WindowIn:
        if not self.device_id and not self.site:
            raise ValueError("a maintenance window needs a unit (device_id) or a site")
        if self.ends_at <= self.starts_at:
            raise ValueError(f"ends_at ({_iso(self.ends_at)}) must be after starts_at ({_iso(self.starts_at)})")
        return self


class WindowOut(WindowIn):
    id: int
    starts_at: float = Field(description="epoch seconds")
    ends_at: float = Field(description="epoch seconds")
    created_by: str | None = None


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _check_scope(ctx, body: WindowIn) -> None:
    """A window for a serial or site nobody registered would suppress nothing: a typo, refused by name. A
    serial typed in another letter case is the unit's (``p-0002`` is ``P-0002``): the window is stored
    under the serial as registered, which is what the alert service matches."""
    registry = getattr(ctx, "registry", None)
    if registry is None:
        return
    unit = registry.find_unit(body.device_id) if body.device_id else None
    if body.device_id and unit is None:
        raise LookupError(f"no unit {body.device_id!r} is registered: the maintenance window would suppress nothing")
    if unit is not None:
        body.device_id = unit.device_id
    if unit is not None and body.site and unit.site != body.site:
        # a window of a unit silences that unit wherever it is: a site that is not its own is a mistake
        raise ValueError(f"unit {body.device_id!r} is at site {unit.site!r}, not {body.site!r}: give the unit, "
                         "or the site, or both as they are registered")
    if body.site and not body.device_id and not registry.count_units(site=body.site):
        # sites are matched exactly (the alert service compares them so): name the one that differs in case only
        like = _sites_in_other_case(registry, body.site)
        hint = (f"did you mean {' or '.join(repr(x) for x in like)}?" if like
                else "no registered site has that name in another letter case")
        raise LookupError(f"no site {body.site!r}; {hint} (no registered unit is at site {body.site!r}: the "
                          "maintenance window would suppress nothing)")


def _sites_in_other_case(registry, site: str) -> list[str]:
    """The sites of registered units in service whose names are ``site`` in another letter case, sorted."""
    from sqlalchemy import select

    from devices.models import Unit

    factory = getattr(registry, "session_factory", None)
    if factory is None:
        return []
    with factory() as s:
        names = s.scalars(select(Unit.site).where(Unit.site.is_not(None), Unit.decommissioned_at.is_(None))
                          .distinct())
        return sorted(n for n in names if n != site and n.casefold() == site.casefold())


@router.post("", response_model=WindowOut, status_code=status.HTTP_201_CREATED, summary="Add a maintenance window",
             responses={404: {"description": "no such unit, or no unit at that site (naming a registered site "
                                           "whose name differs only in letter case)"}})
def add_window(body: WindowIn, ctx: ContextDep, tok: Service) -> dict:
    _check_scope(ctx, body)
    wid = alerts_of(ctx).add_maintenance(starts_at=body.starts_at, ends_at=body.ends_at, device_id=body.device_id,
                                         site=body.site, reason=body.reason, actor=tok.name)
    return {"id": wid, **body.model_dump(), "created_by": tok.name}  # as the list shows it


@router.get("", response_model=ListPublic[WindowOut], summary="Maintenance windows, latest start first")
def list_windows(
    ctx: ContextDep, _: Viewer, pg: PageDep,
    device_id: Annotated[str | None, Query(max_length=128, description="a unit's own windows")] = None,
    site: Annotated[str | None, Query(max_length=128, description="a site's windows")] = None,
    current: Annotated[bool, Query(description="only windows that have not ended yet")] = False,
) -> dict:
    import time

    data, total = alerts_of(ctx).list_maintenance(device_id=serial_filter(ctx, device_id), site=site,
                                                  ends_after=time.time() if current else None,
                                                  limit=pg.limit, offset=pg.offset)
    return {"data": data, "count": total}


@router.delete("/{window_id}", response_model=WindowOut, summary="Delete a maintenance window",
               responses={404: {"description": "no such window"}})
def delete_window(window_id: Annotated[int, Field(ge=1, le=2**31 - 1)], ctx: ContextDep, tok: Service) -> dict:
    return alerts_of(ctx).delete_maintenance(window_id, actor=tok.name)
