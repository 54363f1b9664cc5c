"""Validated input for the registry: machine models and units, to create or to update.

Every entry point (Python, CLI, CSV import, REST API) goes through these schemas, so a bad value
gets the same error everywhere: :class:`devices.errors.InvalidInput`, naming the field.

>>> ModelIn(name="P-200", bearing={"n_balls": 9, "ball_d": 7.94, "pitch_d": 39.04}).bearing.n_balls
9
>>> validate(ModelIn, {"name": "P-200", "bearing": {"n_balls": 9, "ball_d": 40, "pitch_d": 39}})
Traceback (most recent call last):
...
devices.errors.InvalidInput: bearing.ball_d: must be smaller than pitch_d (40 >= 39)
"""

from __future__ import annotations

import json
import math
import re
from datetime import date
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from devices.errors import InvalidInput
from devices.protocol import firmware_problem, is_valid_device_id

__all__ = ["BearingIn", "ModelIn", "ModelUpdate", "UnitIn", "UnitUpdate", "validate", "check_device_id"]

_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/ -]{0,63}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/=-]{0,63}")

S = TypeVar("S", bound=BaseModel)


def check_device_id(device_id: Any) -> str:
    """The device id (serial number) if valid, else :class:`InvalidInput` naming ``device_id``."""
    if not isinstance(device_id, str) or not is_valid_device_id(device_id):
        raise InvalidInput(
            "device_id",
            f"{device_id!r} is not a valid serial number: 1-64 characters, letters, digits and _ . : - "
            "starting with a letter or digit",
        )
    return device_id


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class BearingIn(_Strict):
    """Rolling-element bearing geometry; diameters in one unit (mm or inches)."""

    n_balls: int = Field(ge=3, le=200)
    ball_d: float = Field(gt=0)
    pitch_d: float = Field(gt=0)
    contact_deg: float = Field(0.0, ge=0, lt=90)

    @model_validator(mode="after")
    def _possible(self) -> BearingIn:
        if self.ball_d >= self.pitch_d:
            raise _FieldError("ball_d", f"must be smaller than pitch_d ({self.ball_d:g} >= {self.pitch_d:g})")
        if self.n_balls * self.ball_d > math.pi * self.pitch_d:
            raise _FieldError(
                "n_balls",
                f"{self.n_balls} balls of {self.ball_d:g} do not fit on a pitch circle of diameter {self.pitch_d:g}",
            )
        return self


class _ModelFields(_Strict):
    description: str | None = Field(None, max_length=2000)
    rated_rpm: float | None = Field(None, gt=0, le=200_000)
    bearing: BearingIn | None = None
    iso_group: int | None = Field(None, ge=1, le=4)
    foundation: Literal["rigid", "flexible"] | None = None
    zone_limits_mm_s: tuple[float, float, float] | None = None
    sensors: list[str] | None = None
    reporting_interval_s: float | None = Field(None, gt=0, le=30 * 86400)
    detector_config: dict[str, Any] | None = None

    @field_validator("zone_limits_mm_s")
    @classmethod
    def _zones(cls, v: tuple[float, float, float] | None) -> tuple[float, float, float] | None:
        if v is not None and not (0 < v[0] < v[1] < v[2] and all(math.isfinite(x) for x in v)):
            raise ValueError(f"expected three increasing positive limits A/B, B/C, C/D in mm/s, got {list(v)}")
        return v

    @field_validator("sensors")
    @classmethod
    def _sensors(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            for s in v:
                if not s or len(s) > 64:
                    raise ValueError(f"sensor names are 1-64 characters, got {s!r}")
        return v

    @field_validator("detector_config")
    @classmethod
    def _json(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None:
            _check_monitor_config(v)  # first: it names the setting (NaN for alarm_ratio, not "out of range float")
            try:
                json.dumps(v, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"must be JSON-serialisable: {exc}") from None
        return v


class ModelIn(_ModelFields):
    """A machine model to create. Omitted fields take the defaults below."""

    name: str = Field(min_length=1, max_length=64)
    description: str | None = ""
    iso_group: int | None = Field(2, ge=1, le=4)
    foundation: Literal["rigid", "flexible"] | None = "rigid"
    reporting_interval_s: float | None = Field(60.0, gt=0, le=30 * 86400)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _MODEL_NAME.fullmatch(v):
            raise ValueError(f"{v!r} is not a valid model name: letters, digits, space and _ . : / -")
        return v


class ModelUpdate(_ModelFields):
    """Changes to a machine model: only the fields given are changed (``None`` clears optional ones)."""


class _UnitFields(_Strict):
    model: str | None = Field(None, max_length=64)
    customer: str | None = Field(None, max_length=200)
    site: str | None = Field(None, max_length=200)
    install_date: date | None = None
    firmware: str | None = Field(None, max_length=64)
    warranty_end: date | None = None
    batch: str | None = Field(None, max_length=64)
    tags: list[str] | None = None

    @field_validator("install_date", "warranty_end", mode="before")
    @classmethod
    def _iso_date(cls, v: Any) -> Any:
        # Only YYYY-MM-DD: pydantic read a number, or a cell of digits, as Unix time, so an ERP's "0" for
        # "unknown" became 1970-01-01 silently, and "20250115" was "should have zero time".
        if v is None or isinstance(v, date):
            return v
        if isinstance(v, str) and _ISO_DATE.fullmatch(v.strip()):
            try:
                return date.fromisoformat(v.strip())
            except ValueError as exc:
                raise ValueError(f"{v.strip()!r} is not a date ({exc})") from None
        raise ValueError(f"expected a date as YYYY-MM-DD, got {v!r}")

    @field_validator("firmware", "batch", "customer", "site")
    @classmethod
    def _not_empty(cls, v: str | None) -> str | None:
        # '' is no value: fleet surges and reports group by firmware and batch, and '' was a group of its own.
        if v is not None and not v.strip():
            raise ValueError("empty: leave it out when unknown (to remove a value: --clear FIELD on the "
                             "command line, null in the API, an empty cell in a CSV)")
        return v

    @field_validator("firmware")
    @classmethod
    def _firmware(cls, v: str | None) -> str | None:
        # The protocol's rule: a NUL was stored on SQLite and refused by PostgreSQL (a 500 from the API).
        if v is not None and (problem := firmware_problem(v)):
            raise ValueError(problem)
        return v

    @field_validator("model", "customer", "site", "batch")
    @classmethod
    def _storable(cls, v: str | None) -> str | None:
        if v is not None and "\x00" in v:
            raise ValueError(f"NUL character at position {v.index(chr(0))}: not storable text")
        return v

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            for tag in v:
                if not _TAG.fullmatch(tag):
                    raise ValueError(f"tag {tag!r} is not valid: 1-64 letters, digits and _ . : / = -")
            v = list(dict.fromkeys(v))
        return v

    @model_validator(mode="after")
    def _dates(self) -> _UnitFields:
        if self.install_date and self.warranty_end and self.warranty_end < self.install_date:
            raise _FieldError(
                "warranty_end", f"{self.warranty_end} is before install_date {self.install_date}"
            )
        return self


class UnitIn(_UnitFields):
    """A unit to create (its device id is given separately)."""


class UnitUpdate(_UnitFields):
    """Changes to a unit: only the fields given are changed."""


def _check_monitor_config(v: dict[str, Any]) -> None:
    """Refuse detector settings the detection stage would not apply (it would only log a warning there)."""
    from detectors.config import MonitorConfig

    # (this also refuses an axis no unit sends, "X" or "radial": its units would never be assessed)
    MonitorConfig.from_overrides(v)


class _FieldError(ValueError):
    """Raised inside model validators to name the field at fault (pydantic would name the model)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem


def _nested(field: Any) -> type[BaseModel] | None:
    """The model a field holds (``bearing: BearingIn | None`` -> ``BearingIn``), if any."""
    return next((a for a in getattr(field.annotation, "__args__", (field.annotation,))
                 if isinstance(a, type) and issubclass(a, BaseModel)), None)


def _expected_fields(schema: type[BaseModel], path: list[str], name: str) -> str:
    """``; expected one of a, b, ...`` for the (nested) model at ``path``, and where ``name`` belongs
    when it is a field of a nested table (``n_balls`` given beside ``name`` instead of in ``bearing``)."""
    model: type[BaseModel] | None = schema
    for part in path:
        field = model.model_fields.get(part) if model is not None else None
        model = _nested(field) if field is not None else None
    if model is None:
        return ""
    hint = ""
    for fname, field in model.model_fields.items():
        inner = _nested(field)
        if inner is not None and name in inner.model_fields:
            hint = f" (it belongs in the {fname} table: {fname}.{name})"
            break
    return f"{hint}; expected one of " + ", ".join(model.model_fields)


def validate(schema: type[S], data: dict[str, Any]) -> S:
    """``schema`` validated from ``data``; the first problem raises :class:`InvalidInput` naming its field."""
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _FieldError):
            # Keep the path to the model that raised it (e.g. "bearing"), then the field it names.
            raise InvalidInput(".".join(loc + [ctx_error.field]), ctx_error.problem) from None
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field" + _expected_fields(schema, loc[:-1], loc[-1] if loc else "")
        raise InvalidInput(".".join(loc) or schema.__name__, msg) from None
