"""``foreshock devices models ...``: add (from a TOML/JSON file or flags), update and list machine models."""

from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path
from typing import Any

from devices.cli import run
from devices.errors import RegistryError
from devices.models import MachineModel

__all__ = ["register_models", "model_dict"]

_SCALARS = ("description", "rated_rpm", "iso_group", "foundation", "reporting_interval_s")


def register_models(d: argparse._SubParsersAction) -> None:
    m = d.add_parser("models", help="machine models")
    md = m.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    ma = md.add_parser("add", help="add machine models from a TOML/JSON file or from flags")
    ma.add_argument("--file", metavar="FILE", help="TOML ([[models]] tables) or JSON (an object or a list)")
    ma.add_argument("--name", help="the model's name (without --file)")
    _model_flags(ma)
    ma.set_defaults(func=_models_add)
    mu = md.add_parser("update", help="change fields of a machine model")
    mu.add_argument("name", metavar="NAME", help="the model to change")
    _model_flags(mu)
    mu.add_argument("--clear-bearing", action="store_true", help="forget the bearing geometry")
    mu.set_defaults(func=_models_update)
    mr = md.add_parser("remove", help="remove a machine model no unit has (one added by mistake)")
    mr.add_argument("name", metavar="NAME", help="the model to remove")
    mr.set_defaults(func=_models_remove)
    ml = md.add_parser("list", help="list machine models")
    ml.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ml.set_defaults(func=_models_list)


def _model_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--description", help="free text")
    p.add_argument("--rated-rpm", type=float, help="the speed its units run at (rev/min)")
    p.add_argument("--n-balls", type=int, help="bearing: number of rolling elements")
    p.add_argument("--ball-d", type=float, help="bearing: rolling-element diameter")
    p.add_argument("--pitch-d", type=float, help="bearing: pitch diameter (same unit as --ball-d)")
    p.add_argument("--contact-deg", type=float, help="bearing: contact angle in degrees (default 0)")
    p.add_argument("--iso-group", type=int, help="ISO 20816 machine group 1-4")
    p.add_argument("--foundation", choices=["rigid", "flexible"], help="ISO 20816 foundation class")
    p.add_argument("--zone-limits", metavar="AB,BC,CD", help="ISO zone limits in mm/s")
    p.add_argument("--sensors", metavar="A,B,...", help="the sensors its units have")
    p.add_argument("--reporting-interval-s", type=float, help="seconds between its units' messages (default "
                   "60); silent after devices.silent_after_intervals of them")
    p.add_argument("--detector-config", metavar="JSON", help="detector configuration overrides")


def model_dict(model: MachineModel) -> dict[str, Any]:
    """A machine model as plain JSON-able data."""
    return {
        "name": model.name, "description": model.description, "rated_rpm": model.rated_rpm,
        "bearing": model.bearing, "iso_group": model.iso_group, "foundation": model.foundation,
        "zone_limits_mm_s": model.zone_limits_mm_s, "sensors": model.sensors,
        "reporting_interval_s": model.reporting_interval_s, "detector_config": model.detector_config,
    }


_BEARING_FLAGS = {"n_balls": "--n-balls", "ball_d": "--ball-d", "pitch_d": "--pitch-d", "contact_deg": "--contact-deg"}


def _bearing_from_flags(a: argparse.Namespace, current: dict[str, Any] | None, updating: bool) -> dict[str, Any] | None:
    """The bearing the flags describe: those given over the model's ``current`` bearing (an update
    changes what it names; before, ``--contact-deg 15`` alone was "nothing to change", ``--n-balls 8``
    alone "bearing.ball_d: Input should be a valid number", and a new geometry without
    ``--contact-deg`` put the contact angle back to 0)."""
    given = {key: getattr(a, key) for key in _BEARING_FLAGS if getattr(a, key) is not None}
    if not given:
        return None
    bearing = {**(current or {}), **given}
    missing = [flag for key, flag in _BEARING_FLAGS.items() if key != "contact_deg" and bearing.get(key) is None]
    if missing:
        raise ValueError(f"{', '.join(missing)} missing: a bearing needs --n-balls, --ball-d and --pitch-d"
                         + (" (the model has none yet)" if updating and current is None else ""))
    return bearing


def _fields_from_flags(a: argparse.Namespace, current_bearing: dict[str, Any] | None = None,
                       updating: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {key: getattr(a, key) for key in _SCALARS if getattr(a, key) is not None}
    if (bearing := _bearing_from_flags(a, current_bearing, updating)) is not None:
        item["bearing"] = bearing
    if a.zone_limits:
        try:
            limits = [float(x) for x in a.zone_limits.split(",")]
        except ValueError:
            limits = []
        if len(limits) != 3:
            raise ValueError(f"--zone-limits: expected three numbers in mm/s separated by commas (A/B,B/C,C/D, "
                             f"e.g. 2.8,7.1,11), got {a.zone_limits!r}")
        item["zone_limits_mm_s"] = limits
    if a.sensors:
        item["sensors"] = [x.strip() for x in a.sensors.split(",") if x.strip()]
    if a.detector_config:
        try:
            item["detector_config"] = json.loads(a.detector_config)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--detector-config: not valid JSON: {exc}") from None
    return item


def _read_models_file(path: str) -> list[dict[str, Any]]:
    from devices.schemas import ModelIn

    text = Path(path).read_text(encoding="utf-8")
    is_json = path.endswith(".json")
    try:
        doc: Any = json.loads(text) if is_json else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: not valid {'JSON' if is_json else 'TOML'}: {exc}") from None
    if isinstance(doc, dict) and "models" in doc:
        doc = doc["models"]
    elif isinstance(doc, dict) and doc and not set(doc) & set(ModelIn.model_fields):
        # [[model]] read as one model without a name: "model #1 (?): name: Field required"
        found = ", ".join(f"[[{k}]]" if isinstance(v, list) else f"[{k}]" if isinstance(v, dict) else repr(k)
                          for k, v in list(doc.items())[:5])
        raise ValueError(f"{path}: expected [[models]] tables (or the fields of one model), found {found}")
    items = doc if isinstance(doc, list) else [doc]
    if not all(isinstance(m, dict) for m in items):
        raise ValueError(f"{path}: expected a model object, a list of them, or [[models]] tables")
    return items


def _models_add(args, settings) -> int:
    from devices.schemas import ModelIn, validate

    def go(reg, a, s) -> int:
        if a.file:
            items = _read_models_file(a.file)
        elif a.name:
            items = [{"name": a.name, **_fields_from_flags(a)}]
        else:
            raise ValueError("give --file or at least --name")
        existing = {m.name for m in reg.list_models()}
        for i, item in enumerate(items):  # validate all before adding any
            try:
                validate(ModelIn, item)
            except RegistryError as exc:
                raise ValueError(f"model #{i + 1} ({item.get('name', '?')}): {exc}") from None
            if item["name"] in existing:
                raise ValueError(f"model #{i + 1}: {item['name']!r} already exists (use `models update`)")
            first = next(j for j, other in enumerate(items) if other.get("name") == item["name"])
            if first != i:
                raise ValueError(f"model #{i + 1}: {item['name']!r} is also model #{first + 1} of the file")
        for item in items:
            fields = dict(item)
            reg.create_model(fields.pop("name"), **fields)
            print(f"model {item['name']} added")
        return 0

    return run(go, args, settings)


def _models_update(args, settings) -> int:
    def go(reg, a, s) -> int:
        flags = (*_SCALARS, *_BEARING_FLAGS, "zone_limits", "sensors", "detector_config")
        if not a.clear_bearing and all(getattr(a, key) is None for key in flags):
            raise ValueError("nothing to change: give at least one field flag")
        current = reg.get_model(a.name)
        if current is None:
            raise ValueError(f"no machine model named {a.name!r} (see foreshock devices models list)")
        if a.clear_bearing and any(getattr(a, key) is not None for key in _BEARING_FLAGS):
            raise ValueError("--clear-bearing with bearing flags: give one or the other")
        fields = _fields_from_flags(a, current.bearing, updating=True)
        if a.clear_bearing:
            fields["bearing"] = None
        reg.update_model(a.name, **fields)
        print(f"model {a.name} updated")
        return 0

    return run(go, args, settings)


def _models_remove(args, settings) -> int:
    def go(reg, a, s) -> int:
        reg.remove_model(a.name)
        print(f"model {a.name} removed")
        return 0

    return run(go, args, settings)


def _models_list(args, settings) -> int:
    def go(reg, a, s) -> int:
        models = reg.list_models()
        if a.json:
            print(json.dumps([model_dict(m) for m in models], indent=2))
            return 0
        for m in models:
            bearing = m.bearing
            geo = f"{bearing['n_balls']}x{bearing['ball_d']:g}/{bearing['pitch_d']:g}" if bearing else "-"
            print(f"{m.name:<16} rpm={m.rated_rpm or '-'} bearing={geo} iso_group={m.iso_group} "
                  f"every {m.reporting_interval_s:g} s")
        return 0

    return run(go, args, settings)
