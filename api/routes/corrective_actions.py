"""Corrective actions: record one with its scope and date (engineer), verify it against the failure data.

The verdict (``effective`` / ``not_effective`` / ``insufficient_data`` with the rate ratio, its
interval and how many more unit-days are needed) is stored on the action and written into the
linked ticket's D6/D7. See ``docs/complaints.md``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from alerts.complaints import check_instant

from api.deps import ContextDep, Engineer, Viewer
from api.routes.complaints import desk_of
from api.schemas import ListPublic

router = APIRouter(prefix="/corrective-actions", tags=["corrective actions"])
ActionId = Annotated[int, Field(ge=1, le=2**31 - 1)]


class Scope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str | None = Field(None, min_length=1, max_length=128)
    batch: str | None = Field(None, min_length=1, max_length=64)
    firmware: str | None = Field(None, min_length=1, max_length=64)
    serial_from: str | None = Field(None, min_length=1, max_length=64)
    serial_to: str | None = Field(None, min_length=1, max_length=64)


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=300)
    description: str = Field("", max_length=20_000)
    scope: Scope
    failure_modes: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list,
                                                                                  max_length=50)
    applied_at: datetime
    baseline_d: float = Field(90.0, gt=0, le=3650, allow_inf_nan=False,
                              description="days before the action to compare with")
    target_ratio: float = Field(0.7, gt=0, lt=1, allow_inf_nan=False,
                                description="the failure-rate ratio the action must reach")
    ticket: str | None = Field(None, min_length=1, max_length=32, description="the ticket whose D6/D7 it fills")

    @field_validator("applied_at")
    @classmethod
    def _in_range(cls, v: datetime) -> datetime:
        return check_instant(v)


class ActionPublic(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: int
    title: str
    scope: dict[str, Any]
    failure_modes: list[str]
    applied_at: str | None
    baseline_d: float
    target_ratio: float
    ticket: str | None = None
    verdict: dict[str, Any] | None = None
    verified_at: str | None = None


@router.get("", response_model=ListPublic[ActionPublic], summary="Corrective actions, newest first")
def list_actions(ctx: ContextDep, _: Viewer) -> dict:
    data = desk_of(ctx).list_actions()
    return {"data": data, "count": len(data)}


@router.post("", response_model=ActionPublic, status_code=201, summary="Record a corrective action")
def create_action(body: ActionIn, ctx: ContextDep, tok: Engineer) -> dict:
    applied = body.applied_at.timestamp()  # with its offset (UTC when it had none), in range
    return desk_of(ctx).create_action(
        actor=tok.name, ticket=body.ticket, title=body.title, description=body.description,
        scope=body.scope.model_dump(exclude_none=True), failure_modes=body.failure_modes, applied_at=applied,
        baseline_d=body.baseline_d, target_ratio=body.target_ratio)


@router.get("/{action_id}", response_model=ActionPublic, summary="One corrective action with its last verdict")
def get_action(action_id: ActionId, ctx: ContextDep, _: Viewer) -> dict:
    return desk_of(ctx).get_action(action_id)


@router.post("/{action_id}/verify", response_model=ActionPublic,
             summary="Compare failure rates before/after and in/out of scope; store the verdict")
def verify_action(action_id: ActionId, ctx: ContextDep, tok: Engineer) -> dict:
    return desk_of(ctx).verify_action(action_id, actor=tok.name)
