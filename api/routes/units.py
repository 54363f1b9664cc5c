"""Units (devices in the field): list, detail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import PageDep, SessionDep, Viewer
from api.rows import get_one, mapped, page, to_dict
from api.schemas import ListPublic, UnitPublic

router = APIRouter(prefix="/units", tags=["units"])
devices_router = APIRouter(prefix="/devices", tags=["units"])


def _unit_model() -> type:
    return mapped("devices.models", "Unit")


def _list(session, pg, customer, site, model_id, state) -> dict:
    data, count = page(
        session, _unit_model(),
        filters={"customer": customer, "site": site, "model_id": model_id, "state": state, "health": state},
        limit=pg.limit, offset=pg.offset, order_by=("device_id",), descending=False,
    )
    return {"data": data, "count": count}


@router.get("", response_model=ListPublic[UnitPublic], summary="List units")
def list_units(
    session: SessionDep, _: Viewer, pg: PageDep,
    customer: Annotated[str | None, Query(max_length=200)] = None,
    site: Annotated[str | None, Query(max_length=200)] = None,
    model_id: Annotated[int | None, Query(ge=0, le=2**31)] = None,
    state: Annotated[str | None, Query(max_length=20)] = None,
) -> dict:
    return _list(session, pg, customer, site, model_id, state)


@devices_router.get("", response_model=ListPublic[UnitPublic], summary="List units (alias of /units)")
def list_devices(
    session: SessionDep, _: Viewer, pg: PageDep,
    customer: Annotated[str | None, Query(max_length=200)] = None,
    site: Annotated[str | None, Query(max_length=200)] = None,
    model_id: Annotated[int | None, Query(ge=0, le=2**31)] = None,
    state: Annotated[str | None, Query(max_length=20)] = None,
) -> dict:
    return _list(session, pg, customer, site, model_id, state)


@router.get("/{device_id}", response_model=UnitPublic, summary="One unit")
def get_unit(device_id: str, session: SessionDep, _: Viewer) -> dict:
    return to_dict(get_one(session, _unit_model(), "device_id", device_id, "unit"))
