"""Machine models: list, detail, create, change, and their detector configuration."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Admin, ContextDep, Engineer, Viewer
from api.routes.units import registry_of
from api.schemas import ListPublic

router = APIRouter(prefix="/models", tags=["models"])
# A model's name may hold a "/" ("FAN 6305/60Hz"): the routes take the rest of the path as the name,
# those ending in /detector-config first (a name "{name:path}" alone would swallow the suffix).


class Bearing(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # NaN read "less than or equal to 10000"

    n_balls: int = Field(ge=3, le=200)
    ball_d: float = Field(gt=0, le=1e4)
    pitch_d: float = Field(gt=0, le=1e5)
    contact_deg: float = Field(0.0, ge=0, lt=90)


class ModelFields(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    description: str | None = Field(None, max_length=2000)
    rated_rpm: float | None = Field(None, gt=0, le=200_000)
    bearing: Bearing | None = None
    iso_group: int | None = Field(None, ge=1, le=4)
    foundation: str | None = Field(None, pattern="^(rigid|flexible)$")
    zone_limits_mm_s: list[float] | None = Field(None, min_length=3, max_length=3)
    sensors: list[str] | None = None
    reporting_interval_s: float | None = Field(None, gt=0, le=30 * 86400)


class ModelCreate(ModelFields):
    name: str = Field(min_length=1, max_length=64)


class ModelUpdate(ModelFields):
    pass


class ModelPublic(BaseModel):
    id: int
    name: str
    description: str = ""
    rated_rpm: float | None = None
    bearing: dict[str, float] | None = None
    iso_group: int = 2
    foundation: str = "rigid"
    zone_limits_mm_s: list[float] | None = None
    sensors: list[str] = []
    reporting_interval_s: float = 60.0
    detector_config: dict[str, Any] = {}
    defect_multipliers: dict[str, float] | None = None


class DetectorConfig(BaseModel):
    """Detector configuration overrides of a model (free-form JSON object, read by the detection stage)."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused, not ignored
    config: dict[str, Any]


def model_public(m: Any) -> dict[str, Any]:
    mult = None
    if m.bearing:
        try:
            from detectors.types import BearingGeometry

            mult = BearingGeometry(**m.bearing).multipliers()
        except (TypeError, ValueError):
            mult = None
    return {
        "id": m.id, "name": m.name, "description": m.description or "", "rated_rpm": m.rated_rpm,
        "bearing": m.bearing, "iso_group": m.iso_group, "foundation": m.foundation,
        "zone_limits_mm_s": list(m.zone_limits_mm_s) if m.zone_limits_mm_s else None,
        "sensors": list(m.sensors or []), "reporting_interval_s": m.reporting_interval_s,
        "detector_config": dict(m.detector_config or {}), "defect_multipliers": mult,
    }


def _require(ctx, name: str) -> Any:
    m = registry_of(ctx).get_model(name)
    if m is None:
        raise LookupError(f"no machine model named {name!r}")
    return m


@router.get("", response_model=ListPublic[ModelPublic], summary="List machine models")
def list_models(ctx: ContextDep, _: Viewer) -> dict:
    models = registry_of(ctx).list_models()
    return {"data": [model_public(m) for m in models], "count": len(models)}


@router.post("", response_model=ModelPublic, status_code=status.HTTP_201_CREATED, summary="Create a machine model")
def create_model(body: ModelCreate, ctx: ContextDep, _: Admin) -> dict:
    return model_public(registry_of(ctx).create_model(body.name, **body.model_dump(exclude={"name"}, exclude_unset=True)))


@router.get("/{name:path}/detector-config", response_model=DetectorConfig, summary="Detector configuration of a model")
def get_detector_config(name: str, ctx: ContextDep, _: Viewer) -> dict:
    return {"config": dict(_require(ctx, name).detector_config or {})}


@router.put("/{name:path}/detector-config", response_model=DetectorConfig, summary="Replace a model's detector configuration")
def put_detector_config(name: str, body: DetectorConfig, ctx: ContextDep, _: Engineer) -> dict:
    m = registry_of(ctx).update_model(name, detector_config=body.config)
    return {"config": dict(m.detector_config or {})}


@router.get("/{name:path}", response_model=ModelPublic, summary="One machine model")
def get_model(name: str, ctx: ContextDep, _: Viewer) -> dict:
    return model_public(_require(ctx, name))


@router.patch("/{name:path}", response_model=ModelPublic, summary="Change a machine model")
def update_model(name: str, body: ModelUpdate, ctx: ContextDep, _: Admin) -> dict:
    return model_public(registry_of(ctx).update_model(name, **body.model_dump(exclude_unset=True)))
