"""A fleet: which units of which models, and what goes wrong with them, from a short TOML file.

.. code-block:: toml

    seed = 42
    duration = "2d"                 # default run length; times below are from the run's start
    telemetry_interval = "10s"
    snapshot_interval = "10m"
    credentials = { username = "{unit_id}", password = "secret-{unit_id}" }   # optional

    [models.P-1800-HD]              # optional: a variant of a catalogue model
    base = "P-1800"
    rated_rpm = 1500
    bearing = { n_balls = 9, ball_d = 7.94, pitch_d = 39.04, contact_deg = 0 }

    [[units]]
    id = "P-0001"
    model = "P-1800"
    fault = { kind = "outer_race", onset = "6h", failure = "40h" }     # or ttf = "34h"
    sensor_faults = [{ kind = "dropout", start = "10h", end = "11h" }]

    [[groups]]                      # many units at once: ids prefix + number
    prefix = "F-"
    count = 20
    model = "F-3000"
    batch = "2024-W07"
    fault_probability = 0.4         # a weak bearing lot: 40 % develop a bearing fault in the run
    fault_kinds = ["outer_race", "inner_race", "ball"]
    ttf = ["12h", "36h"]

Any error (unknown model, impossible geometry, onset after failure, unknown field) raises
:class:`~simulator.models.FleetError` naming the field; nothing is simulated.

>>> fleet = demo_fleet(seed=0)
>>> len(fleet.units), sorted({u.model.name for u in fleet.units})
(6, ['F-3000', 'G-300', 'P-1800'])
>>> load_fleet({"units": [{"id": "X-1", "model": "Nope"}]})
Traceback (most recent call last):
...
simulator.models.FleetError: units[0].model: unknown model 'Nope' (known: F-3000, G-300, P-1800)
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from devices.protocol import is_valid_device_id
from simulator.faults import BEARING_FAULTS, FAULT_KINDS, SENSOR_FAULT_KINDS, Fault, SensorFault
from simulator.models import CATALOGUE, Bearing, FleetError, MachineModel, Sensor, UnitVariation

__all__ = ["Fleet", "UnitSpec", "demo_fleet", "load_fleet", "parse_duration"]

MAX_DURATION_S = 100 * 365 * 86400.0  # a century: beyond it epoch milliseconds stop being dates
_DURATION = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*(?:ms|s|min|m|h|d)\s*)+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|min|m|h|d)")
_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any, where: str) -> float:
    """Seconds from a number (seconds) or a string like ``"90s"``, ``"15m"``, ``"6h"``, ``"1d12h"``.

    >>> parse_duration("1.5h", "x"), parse_duration(30, "x"), parse_duration("1d2h", "x")
    (5400.0, 30.0, 93600.0)
    """
    if isinstance(value, bool):
        raise FleetError(f"{where}: expected a duration like '6h' or seconds, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and _DURATION.match(value):
        seconds = sum(float(n) * _SCALE[unit] for n, unit in _PART.findall(value))
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", value):
        seconds = float(value)
    else:
        raise FleetError(f"{where}: expected a duration like '90s', '15m', '6h', '2d' or seconds, got {value!r}")
    if not math.isfinite(seconds):
        raise FleetError(f"{where}: expected a finite duration, got {value!r}")
    if seconds < 0:
        raise FleetError(f"{where}: duration must not be negative, got {value!r}")
    if seconds > MAX_DURATION_S:
        raise FleetError(f"{where}: {value!r} is longer than the longest duration, 100 years ({MAX_DURATION_S:.0f} s)")
    return seconds


def _number(value: Any, where: str, lo: float, hi: float) -> float:
    """``value`` as a float in ``lo..hi``, or :class:`FleetError` naming ``where``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not lo <= value <= hi
    ):
        raise FleetError(f"{where}: expected a number in {_plain(lo)}..{_plain(hi)}, got {value!r}")
    return float(value)


def _plain(x: float) -> str:
    return f"{x:.0f}" if x == int(x) else f"{x:g}"


@dataclass(frozen=True)
class UnitSpec:
    """One simulated unit. Fault times are milliseconds from the run's start."""

    unit_id: str
    index: int
    model: MachineModel
    variation: UnitVariation
    batch: str | None = None
    fault: Fault | None = None
    sensor_faults: tuple[SensorFault, ...] = ()
    username: str | None = None
    password: str | None = None
    firmware: str = "sim-1.0"


@dataclass
class Fleet:
    """Units to simulate, the reporting intervals and the seed that makes a run reproducible."""

    seed: int
    units: list[UnitSpec]
    duration_s: float = 2 * 86400.0
    telemetry_interval_s: float = 10.0
    snapshot_interval_s: float = 600.0

    def unit(self, unit_id: str) -> UnitSpec:
        for u in self.units:
            if u.unit_id == unit_id:
                return u
        raise KeyError(unit_id)

    @property
    def models(self) -> dict[str, MachineModel]:
        return {u.model.name: u.model for u in self.units}


_TOP = {
    "seed",
    "duration",
    "telemetry_interval",
    "snapshot_interval",
    "credentials",
    "models",
    "units",
    "groups",
}
_UNIT = {"id", "model", "batch", "fault", "sensor_faults", "username", "password", "firmware"}
_GROUP = {
    "prefix",
    "count",
    "start",
    "model",
    "batch",
    "fault_probability",
    "fault_kinds",
    "onset",
    "ttf",
    "growth",
    "username",
    "password",
    "firmware",
}
_FAULT = {"kind", "onset", "failure", "ttf", "growth"}
_SFAULT = {"kind", "start", "end", "skew_s", "rate", "size_g", "level", "gain"}
# the accepted range of each sensor-fault parameter (clock_skew's +240 s limit is SensorFault's own check)
_SFAULT_RANGE = {
    "skew_s": (-365 * 86400.0, 365 * 86400.0),
    "rate": (0.0, 1000.0),
    "size_g": (0.0, 1e6),
    "level": (0.001, 10.0),
    "gain": (0.001, 1e9),
}
# the parameters each kind uses: one given to another kind (a skew_s on a dropout) was silently ignored
_SFAULT_PARAMS = {"spikes": ("rate", "size_g"), "saturation": ("level", "gain"), "clock_skew": ("skew_s",)}


_BEARING = {f.name for f in fields(Bearing)}
_SENSOR = {f.name for f in fields(Sensor)}


def _check_keys(obj: Any, allowed: set[str], where: str,
                nested: dict[str, set[str]] | None = None) -> dict[str, Any]:
    """``obj`` as a table of ``allowed`` keys; an unknown key is refused with the key it was likely
    meant to be, or (``nested``: table name -> its keys) the table it belongs in."""
    if not isinstance(obj, dict):
        raise FleetError(f"{where}: expected a table, got {type(obj).__name__}")
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise FleetError(
            f"{where}: unknown field(s) {', '.join(_hinted(k, allowed, nested or {}) for k in unknown)} "
            f"(allowed: {', '.join(sorted(allowed))})"
        )
    return obj


def _hinted(key: str, allowed: set[str], nested: dict[str, set[str]]) -> str:
    home = next((table for table, keys in nested.items() if key in keys), None)
    if home is not None:
        return f"{key} (it belongs in the {home} table: {home} = {{ {key} = ... }})"
    near = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.75)
    return f"{key} (did you mean {near[0]}?)" if near else key


def _model(doc: dict[str, Any], name: Any, where: str, custom: dict[str, MachineModel]) -> MachineModel:
    if not isinstance(name, str):
        raise FleetError(f"{where}: expected a model name (a string), got {name!r}")
    if name in custom:
        return custom[name]
    if name in CATALOGUE:
        return CATALOGUE[name]
    known = ", ".join(sorted({*CATALOGUE, *custom}))
    raise FleetError(f"{where}: unknown model {name!r} (known: {known})")


def _custom_models(doc: dict[str, Any]) -> dict[str, MachineModel]:
    out: dict[str, MachineModel] = {}
    models = doc.get("models", {})
    if not isinstance(models, dict):
        raise FleetError("models: expected a table of model name -> table")
    allowed = {f.name for f in fields(MachineModel)} | {"base"}
    for name, spec in models.items():
        where = f"models.{name}"
        spec = dict(_check_keys(spec, allowed, where, nested={"bearing": _BEARING, "sensor": _SENSOR}))
        base_name = spec.pop("base", None)
        base = CATALOGUE.get(base_name) if base_name else None
        if base_name and base is None:
            raise FleetError(
                f"{where}.base: unknown model {base_name!r} (known: {', '.join(sorted(CATALOGUE))})"
            )
        if not base:
            missing = [k for k in ("rated_rpm", "bearing", "resonance_hz") if k not in spec]
            if missing:
                raise FleetError(f"{where}: missing {', '.join(missing)} (a model without 'base' needs rated_rpm, "
                                 f"bearing, resonance_hz; known bases: {', '.join(sorted(CATALOGUE))})")
        _check_types(spec, MachineModel, where)
        b = s = None
        if "bearing" in spec:
            b = _check_keys(spec["bearing"], _BEARING, f"{where}.bearing")
            absent = [k for k in ("n_balls", "ball_d", "pitch_d") if k not in b]
            if absent:
                raise FleetError(f"{where}.bearing: missing {', '.join(absent)}")
            _check_types(b, Bearing, f"{where}.bearing")
        if "sensor" in spec:
            s = _check_keys(spec["sensor"], _SENSOR, f"{where}.sensor")
            _check_types(s, Sensor, f"{where}.sensor")
        try:
            if b is not None:
                spec["bearing"] = Bearing(**b)
            if s is not None:  # what it names changes the base model's sensor; the rest stays the base's
                spec["sensor"] = replace(base.sensor, **s) if base else Sensor(**s)
            spec["name"] = name
            out[name] = base.with_overrides(**spec) if base else MachineModel(**spec)
        except FleetError as exc:
            raise FleetError(f"{where}: {exc}") from None
    return out


# what a TOML value must be for each annotation of the model dataclasses (tables are checked apart)
_TYPES: dict[str, tuple[str, Any]] = {
    "float": ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)),
    "int": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "int | None": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "str": ("a string", lambda v: isinstance(v, str)),
}


def _check_types(spec: dict[str, Any], cls: type, where: str) -> dict[str, Any]:
    """Refuse a value of the wrong type naming its field: the dataclasses compare, and the physics
    computes, with whatever they are given (``rated_rpm = true`` ran at 1 rpm, ``n = 1000.5`` failed
    deep in numpy after the run had started writing files)."""
    types = {f.name: f.type for f in fields(cls)}
    for key, value in spec.items():
        rule = _TYPES.get(str(types.get(key)))
        if rule is not None and not rule[1](value):
            raise FleetError(f"{where}.{key}: expected {rule[0]}, got {value!r}")
    return spec


def _fault(spec: Any, where: str, duration_s: float) -> Fault:
    spec = _check_keys(spec, _FAULT, where)
    if "kind" not in spec:
        raise FleetError(
            f"{where}.kind: required (one of {', '.join(FAULT_KINDS)}); leave out 'fault' for a healthy unit"
        )
    if spec["kind"] not in FAULT_KINDS:
        raise FleetError(
            f"{where}.kind: unknown fault {spec.get('kind')!r} (known: {', '.join(FAULT_KINDS)})"
        )
    if "onset" not in spec:
        raise FleetError(f"{where}.onset: required")
    onset = parse_duration(spec["onset"], f"{where}.onset")
    if ("failure" in spec) == ("ttf" in spec):
        raise FleetError(
            f"{where}: give exactly one of failure (time from the start) or ttf (time from onset)"
        )
    failure = (
        parse_duration(spec["failure"], f"{where}.failure")
        if "failure" in spec
        else onset + parse_duration(spec["ttf"], f"{where}.ttf")
    )
    if failure <= onset:
        raise FleetError(f"{where}: onset ({onset:g} s) must be before failure ({failure:g} s)")
    growth = _number(spec.get("growth", 3.0), f"{where}.growth", 0.1, 20.0)
    try:
        return Fault(spec["kind"], int(onset * 1000), int(failure * 1000), growth)
    except FleetError as exc:
        raise FleetError(f"{where}: {exc}") from None


def _sensor_faults(specs: Any, where: str) -> tuple[SensorFault, ...]:
    if not isinstance(specs, list):
        raise FleetError(f"{where}: expected a list of tables")
    out = []
    for i, spec in enumerate(specs):
        w = f"{where}[{i}]"
        spec = _check_keys(spec, _SFAULT, w)
        for key in ("kind", "start", "end"):
            if key not in spec:
                raise FleetError(f"{w}.{key}: required")
        start, end = parse_duration(spec["start"], f"{w}.start"), parse_duration(spec["end"], f"{w}.end")
        if not start < end:
            raise FleetError(f"{w}: start ({start:g} s) must be before end ({end:g} s)")
        kind = spec["kind"] if isinstance(spec["kind"], str) else ""
        unused = [k for k in spec if k in _SFAULT_RANGE and k not in _SFAULT_PARAMS.get(kind, ())]
        if unused and kind in SENSOR_FAULT_KINDS:
            uses = "; ".join(f"{kind}: {', '.join(keys)}" for kind, keys in _SFAULT_PARAMS.items())
            raise FleetError(f"{w}: {', '.join(unused)} does not apply to a {kind} fault, which takes "
                             f"{', '.join(_SFAULT_PARAMS.get(kind, ())) or 'no parameters'} ({uses})")
        params = {
            k: _number(v, f"{w}.{k}", *_SFAULT_RANGE[k])
            for k, v in spec.items()
            if k not in ("kind", "start", "end")
        }
        try:
            out.append(SensorFault(spec["kind"], int(start * 1000), int(end * 1000), params))
        except FleetError as exc:
            raise FleetError(f"{w}: {exc}") from None
    return tuple(out)


def _pair(value: Any, where: str) -> list[Any]:
    """A group's range ``[low, high]``: a lone ``"12h"`` was read letter by letter."""
    if not isinstance(value, list) or len(value) != 2:
        raise FleetError(f"{where}: expected a range of two durations like [\"12h\", \"36h\"], got {value!r}")
    return value


def _variation(seed: int, index: int) -> UnitVariation:
    r = np.random.default_rng([seed, index, 17])
    return UnitVariation(
        speed=float(1 + 0.003 * r.standard_normal()),
        resonance=float(1 + 0.04 * r.standard_normal()),
        vibration=float(np.clip(1 + 0.12 * r.standard_normal(), 0.7, 1.3)),
        thermal=float(np.clip(1 + 0.08 * r.standard_normal(), 0.8, 1.2)),
        ambient_offset_c=float(2.0 * r.standard_normal()),
        phase=float(r.uniform()),
    )


def _credential(template: Any, unit_id: str, where: str) -> str | None:
    if template is None:
        return None
    if not isinstance(template, str):
        raise FleetError(f"{where}: expected a string")
    other = re.search(r"\{[^{}]*\}", template.replace("{unit_id}", ""))
    if other:  # a misspelt placeholder ("{unit}", "{id}") was sent literally: every unit refused by the broker
        raise FleetError(f"{where}: unknown placeholder {other.group()} in {template!r}: the one placeholder "
                         "is {unit_id}")
    return template.replace("{unit_id}", unit_id)


def load_fleet(source: str | Path | dict[str, Any], *, seed: int | None = None) -> Fleet:
    """A :class:`Fleet` from a TOML file or an already parsed dict; ``seed`` overrides the file's.

    Raises :class:`FleetError` naming the field.
    """
    if isinstance(source, dict):
        doc = source
    else:
        path = Path(source)
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FleetError(f"fleet file {path} does not exist") from None
        except IsADirectoryError:
            raise FleetError(f"fleet file {path} is a folder; give a TOML file") from None
        except UnicodeDecodeError as exc:
            raise FleetError(
                f"fleet file {path} is not UTF-8 text (TOML): {exc.reason} at byte {exc.start}"
            ) from None
        except OSError as exc:
            raise FleetError(f"fleet file {path} cannot be read: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise FleetError(f"fleet file {path} is not valid TOML: {exc}") from None
    _check_keys(doc, _TOP, "fleet")
    seed = doc.get("seed", 0) if seed is None else seed
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise FleetError(f"seed: expected a non-negative integer, got {seed!r}")
    duration = parse_duration(doc.get("duration", "2d"), "duration")
    if duration <= 0:
        raise FleetError("duration: must be positive, got 0")
    tel = parse_duration(doc.get("telemetry_interval", "10s"), "telemetry_interval")
    snap = parse_duration(doc.get("snapshot_interval", "10m"), "snapshot_interval")
    if not 0.1 <= tel <= 3600:
        raise FleetError(f"telemetry_interval: must be 0.1 s .. 1 h, got {tel:g} s")
    if not tel <= snap <= 86400:
        raise FleetError(f"snapshot_interval: must be between telemetry_interval and 1 d, got {snap:g} s")
    creds = _check_keys(doc.get("credentials", {}), {"username", "password"}, "credentials")
    custom = _custom_models(doc)
    rng = np.random.default_rng([seed, 1])
    units: list[UnitSpec] = []

    def add(
        uid: str,
        where: str,
        model: MachineModel,
        spec: dict[str, Any],
        fault: Fault | None,
        sfaults: tuple[SensorFault, ...],
    ) -> None:
        if not is_valid_device_id(uid):
            raise FleetError(
                f"{where}.id: {uid!r} is not a valid device id (letters, digits, _.:-; at most 64)"
            )
        if any(u.unit_id == uid for u in units):
            raise FleetError(f"{where}.id: duplicate unit id {uid!r}")
        batch = spec.get("batch")
        if batch is not None and not isinstance(batch, str):
            raise FleetError(f"{where}.batch: expected a string")
        units.append(
            UnitSpec(
                unit_id=uid,
                index=len(units),
                model=model,
                variation=_variation(seed, len(units)),
                batch=batch,
                fault=fault,
                sensor_faults=sfaults,
                username=_credential(spec.get("username", creds.get("username")), uid,
                                     f"{where}.username" if "username" in spec else "credentials.username"),
                password=_credential(spec.get("password", creds.get("password")), uid,
                                     f"{where}.password" if "password" in spec else "credentials.password"),
                firmware=str(spec.get("firmware", "sim-1.0")),
            )
        )

    unit_specs = doc.get("units", [])
    if not isinstance(unit_specs, list):
        raise FleetError("units: expected an array of tables ([[units]])")
    for i, spec in enumerate(unit_specs):
        where = f"units[{i}]"
        spec = _check_keys(spec, _UNIT, where)
        for key in ("id", "model"):
            if key not in spec:
                raise FleetError(f"{where}.{key}: required")
        model = _model(doc, spec["model"], f"{where}.model", custom)
        fault = _fault(spec["fault"], f"{where}.fault", duration) if "fault" in spec else None
        add(
            str(spec["id"]),
            where,
            model,
            spec,
            fault,
            _sensor_faults(spec.get("sensor_faults", []), f"{where}.sensor_faults"),
        )
    group_specs = doc.get("groups", [])
    if not isinstance(group_specs, list):
        raise FleetError("groups: expected an array of tables ([[groups]])")
    for gi, spec in enumerate(group_specs):
        where = f"groups[{gi}]"
        spec = _check_keys(spec, _GROUP, where)
        for key in ("prefix", "count", "model"):
            if key not in spec:
                raise FleetError(f"{where}.{key}: required")
        model = _model(doc, spec["model"], f"{where}.model", custom)
        count = spec["count"]
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1_000_000:
            raise FleetError(f"{where}.count: expected an integer 1..1000000, got {count!r}")
        prob = spec.get("fault_probability", 0.0)
        if isinstance(prob, bool) or not isinstance(prob, (int, float)) or not 0 <= prob <= 1:
            raise FleetError(f"{where}.fault_probability: expected a number in 0..1, got {prob!r}")
        kinds = spec.get("fault_kinds", list(BEARING_FAULTS))
        if not isinstance(kinds, list):
            raise FleetError(f"{where}.fault_kinds: expected a list like [\"outer_race\", \"ball\"], got {kinds!r}")
        bad = [k for k in kinds if k not in FAULT_KINDS]
        if bad:
            raise FleetError(f"{where}.fault_kinds: unknown {bad} (known: {', '.join(FAULT_KINDS)})")
        if not kinds:
            raise FleetError(f"{where}.fault_kinds: empty; list at least one of {', '.join(FAULT_KINDS)}")
        ttf = [parse_duration(v, f"{where}.ttf") for v in _pair(spec.get("ttf", ["12h", "36h"]), f"{where}.ttf")]
        onset = [parse_duration(v, f"{where}.onset") for v in _pair(spec.get("onset", [0, duration / 2]),
                                                                     f"{where}.onset")]
        if len(ttf) != 2 or not 0 < ttf[0] <= ttf[1]:
            raise FleetError(f"{where}.ttf: expected [shortest, longest] with 0 < shortest <= longest, "
                             f"got [{ttf[0]:g} s, {ttf[1]:g} s]")
        if len(onset) != 2 or not onset[0] <= onset[1]:
            raise FleetError(f"{where}.onset: expected [earliest, latest], got [{onset[0]:g} s, {onset[1]:g} s]: "
                             "the earliest is after the latest")
        first = spec.get("start", 1)
        if isinstance(first, bool) or not isinstance(first, int) or first < 0:
            raise FleetError(f"{where}.start: expected a non-negative integer (the first unit's number), got {first!r}")
        growth = _number(spec.get("growth", 3.0), f"{where}.growth", 0.1, 20.0)
        drawn = [k for k in ("fault_kinds", "onset", "ttf", "growth") if k in spec]
        if drawn and "fault_probability" not in spec:  # the group stayed healthy: its faults silently dropped
            raise FleetError(f"{where}: {', '.join(drawn)} given but no fault_probability, so no unit of the group "
                             "would develop a fault: set fault_probability (0.4: 40 % of the units; 0: none)")
        width = max(4, len(str(first + count - 1)))
        for k in range(count):
            uid = f"{spec['prefix']}{first + k:0{width}d}"
            fault = None
            draw = rng.uniform(size=4)
            if draw[0] < prob:
                t0 = onset[0] + draw[1] * (onset[1] - onset[0])
                kind = kinds[int(draw[2] * len(kinds))]
                fault = Fault(
                    kind,
                    int(t0 * 1000),
                    int((t0 + ttf[0] + draw[3] * (ttf[1] - ttf[0])) * 1000),
                    growth,
                )
            add(uid, f"{where}[{k}]", model, spec, fault, ())
    if not units:
        raise FleetError("units: the fleet has no units (add [[units]] or [[groups]])")
    return Fleet(
        seed=seed, units=units, duration_s=duration, telemetry_interval_s=tel, snapshot_interval_s=snap
    )


def demo_fleet(seed: int = 0) -> Fleet:
    """Six units of three models: P-0002 develops an outer-race fault 4 h in that fails it at 40 h;
    F-0002 develops an imbalance 6 h in that reaches zone D at 44 h. The rest stay healthy."""
    return load_fleet(
        {
            "seed": seed,
            "duration": "2d",
            "units": [
                {"id": "P-0001", "model": "P-1800", "batch": "2026-W40"},
                {
                    "id": "P-0002",
                    "model": "P-1800",
                    "batch": "2026-W40",
                    "fault": {"kind": "outer_race", "onset": "4h", "failure": "40h"},
                },
                {"id": "F-0001", "model": "F-3000", "batch": "2026-W38"},
                {
                    "id": "F-0002",
                    "model": "F-3000",
                    "batch": "2026-W38",
                    "fault": {"kind": "imbalance", "onset": "6h", "failure": "44h", "growth": 1.5},
                },
                {"id": "G-0001", "model": "G-300", "batch": "2026-W35"},
                {"id": "G-0002", "model": "G-300", "batch": "2026-W35"},
            ],
        }
    )
