"""Between validated input, table rows and the detectors' :class:`~detectors.types.MachineInfo`."""

from __future__ import annotations

from difflib import get_close_matches
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from detectors.types import BearingGeometry, MachineInfo
from devices.errors import InvalidInput
from devices.models import MachineModel, Unit

__all__ = ["to_machine_info", "apply_model", "apply_unit", "no_such_model"]


def no_such_model(name: str, known: list[str] | set[str], otherwise: str = "") -> str:
    """``no machine model named 'PUMP-6250' (did you mean 'PUMP-6205'?)``: an ERP's typo, or a name in
    other letter case, gets the nearest registered name; ``otherwise`` follows when none is near."""
    near = [m for m in known if m.casefold() == name.casefold()] or get_close_matches(name, sorted(known), n=1, cutoff=0.7)
    return f"no machine model named {name!r}" + (f" (did you mean {near[0]!r}?)" if near else otherwise)

_REQUIRED_MODEL_FIELDS = ("description", "iso_group", "foundation", "reporting_interval_s")


def to_machine_info(model: MachineModel) -> MachineInfo:
    bearing = None
    if model.bearing_n_balls is not None:
        bearing = BearingGeometry(
            n_balls=model.bearing_n_balls,
            ball_d=float(model.bearing_ball_d or 0),
            pitch_d=float(model.bearing_pitch_d or 0),
            contact_deg=float(model.bearing_contact_deg or 0.0),
        )
    zones = tuple(float(z) for z in model.zone_limits_mm_s) if model.zone_limits_mm_s else None
    return MachineInfo(
        rated_rpm=model.rated_rpm,
        bearing=bearing,
        iso_group=model.iso_group,
        foundation=model.foundation,  # type: ignore[arg-type]
        zone_limits_mm_s=zones,  # type: ignore[arg-type]
    )


def apply_model(model: MachineModel, values: dict[str, Any], *, creating: bool) -> None:
    for key, value in values.items():
        if value is None and key in _REQUIRED_MODEL_FIELDS:
            if creating:
                continue
            raise InvalidInput(key, "cannot be cleared")
        if key == "bearing":
            bearing = value or {}
            model.bearing_n_balls = bearing.get("n_balls")
            model.bearing_ball_d = bearing.get("ball_d")
            model.bearing_pitch_d = bearing.get("pitch_d")
            model.bearing_contact_deg = bearing.get("contact_deg")
        elif key == "zone_limits_mm_s":
            model.zone_limits_mm_s = list(value) if value is not None else None
        elif key in ("sensors", "detector_config"):
            setattr(model, key, value if value is not None else ([] if key == "sensors" else {}))
        else:
            setattr(model, key, value)


def apply_unit(
    session: Session, unit: Unit, values: dict[str, Any], models: dict[str, MachineModel] | None = None
) -> None:
    """Set ``values`` on ``unit``; ``models`` (name -> row) saves a query per unit in bulk imports."""
    for key, value in values.items():
        if key == "model":
            if value is None:
                unit.model_id, unit.model = None, None
                continue
            if models is not None:
                model = models.get(value)
            else:
                model = session.scalar(select(MachineModel).where(MachineModel.name == value))
            if model is None:
                known = models.keys() if models is not None else session.scalars(select(MachineModel.name)).all()
                raise InvalidInput("model", no_such_model(value, set(known),
                                                          " (add it first: foreshock devices models add)"))
            unit.model = model
        elif key == "tags":
            unit.tags = list(value or [])
        else:
            setattr(unit, key, value)
    if unit.install_date and unit.warranty_end and unit.warranty_end < unit.install_date:
        raise InvalidInput("warranty_end", f"{unit.warranty_end} is before install_date {unit.install_date}")
