"""Maintenance windows: no alert is raised for a unit (or a whole site) inside one."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, Field, model_validator

from api.deps import ContextDep, Service
from api.routes.alerts import alerts_of

router = APIRouter(prefix="/maintenance", tags=["alerts"])


class WindowIn(BaseModel):
    device_id: str | None = Field(None, min_length=1, max_length=128)
    site: str | None = Field(None, min_length=1, max_length=128)
    starts_at: float = Field(ge=0, le=1e11, description="epoch seconds")
    ends_at: float = Field(ge=0, le=1e11, description="epoch seconds")
    reason: str = Field("", max_length=300)

    @model_validator(mode="after")
    def _scope(self) -> WindowIn:
        if not self.device_id and not self.site:
            raise ValueError("a maintenance window needs a unit (device_id) or a site")
        if self.ends_at <= self.starts_at:
            raise ValueError(f"ends_at ({self.ends_at}) must be after starts_at ({self.starts_at})")
        return self


class WindowOut(WindowIn):
    id: int


@router.post("", response_model=WindowOut, status_code=status.HTTP_201_CREATED, summary="Add a maintenance window")
def add_window(body: WindowIn, ctx: ContextDep, tok: Service) -> dict:
    wid = alerts_of(ctx).add_maintenance(starts_at=body.starts_at, ends_at=body.ends_at, device_id=body.device_id,
                                         site=body.site, reason=body.reason, actor=tok.name)
    return {"id": wid, **body.model_dump()}
