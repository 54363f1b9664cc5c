"""``foreshock devices ...``: the registry of units, machine models and broker credentials."""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from devices.errors import RegistryError
from devices.models import MachineModel, Unit
from devices.query import UnitFilter

__all__ = ["register", "open_registry", "unit_dict", "model_dict"]

_UNIT_FIELDS = ("model", "customer", "site", "install_date", "firmware", "warranty_end", "batch")


def open_registry(settings) -> Any:
    """A :class:`devices.registry.Registry` on ``settings.database_url``, migrated to the latest schema."""
    from devices.registry import Registry
    from foreshock.db import make_engine, migrate, session_factory

    engine = make_engine(settings.database_url)
    migrate(engine)
    return Registry(session_factory(engine))


def _unit_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="machine model name (see `devices models list`)")
    p.add_argument("--customer")
    p.add_argument("--site")
    p.add_argument("--install-date", metavar="YYYY-MM-DD")
    p.add_argument("--firmware")
    p.add_argument("--warranty-end", metavar="YYYY-MM-DD")
    p.add_argument("--batch", help="production batch / bearing lot")
    p.add_argument("--tag", action="append", dest="tags", metavar="TAG", help="repeat for several tags")


def _filter_flags(p: argparse.ArgumentParser) -> None:
    for name in ("model", "customer", "site", "batch", "firmware", "tag"):
        p.add_argument(f"--{name}")
    p.add_argument("--presence", choices=["unknown", "online", "offline"])
    p.add_argument("--serial-from", metavar="SERIAL")
    p.add_argument("--serial-to", metavar="SERIAL")
    p.add_argument("--all", action="store_true", help="include decommissioned units")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("devices", help="registry of sold units, machine models and broker credentials")
    d = p.add_subparsers(dest="devices_command", metavar="ACTION", required=True)

    a = d.add_parser("add", help="register a unit")
    a.add_argument("device_id", metavar="ID", help="serial number = MQTT device id")
    _unit_flags(a)
    a.set_defaults(func=_add)

    ls = d.add_parser("list", help="list units")
    _filter_flags(ls)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)

    s = d.add_parser("show", help="show one unit")
    s.add_argument("device_id", metavar="ID")
    s.set_defaults(func=_show)

    u = d.add_parser("update", help="change fields of a unit")
    u.add_argument("device_id", metavar="ID")
    _unit_flags(u)
    u.add_argument("--clear", action="append", default=[], choices=[*_UNIT_FIELDS, "tags"], help="clear a field")
    u.set_defaults(func=_update)

    dc = d.add_parser("decommission", help="take a unit out of service (revokes its broker access)")
    dc.add_argument("device_id", metavar="ID")
    dc.set_defaults(func=_decommission)

    im = d.add_parser("import", help="import units from CSV (all or nothing)")
    im.add_argument("file", metavar="FILE.csv")
    im.set_defaults(func=_import)

    ex = d.add_parser("export", help="export units as CSV (to stdout without FILE)")
    ex.add_argument("file", metavar="FILE.csv", nargs="?")
    _filter_flags(ex)
    ex.set_defaults(func=_export)

    m = d.add_parser("models", help="machine models")
    md = m.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    ma = md.add_parser("add", help="add machine models from a TOML/JSON file or from flags")
    ma.add_argument("--file", metavar="FILE", help="TOML ([[models]] tables) or JSON (an object or a list)")
    ma.add_argument("--name")
    ma.add_argument("--description")
    ma.add_argument("--rated-rpm", type=float)
    ma.add_argument("--n-balls", type=int)
    ma.add_argument("--ball-d", type=float)
    ma.add_argument("--pitch-d", type=float)
    ma.add_argument("--contact-deg", type=float, default=0.0)
    ma.add_argument("--iso-group", type=int)
    ma.add_argument("--foundation", choices=["rigid", "flexible"])
    ma.add_argument("--zone-limits", metavar="AB,BC,CD", help="ISO zone limits in mm/s")
    ma.add_argument("--sensors", metavar="A,B,...")
    ma.add_argument("--reporting-interval-s", type=float)
    ma.add_argument("--detector-config", metavar="JSON")
    ma.set_defaults(func=_models_add)
    ml = md.add_parser("list", help="list machine models")
    ml.add_argument("--json", action="store_true")
    ml.set_defaults(func=_models_list)

    pv = d.add_parser("provision", help="give a unit new MQTT credentials (printed once)")
    pv.add_argument("device_id", metavar="ID")
    pv.set_defaults(func=_provision)
    rv = d.add_parser("revoke", help="remove a unit's MQTT credentials")
    rv.add_argument("device_id", metavar="ID")
    rv.set_defaults(func=_revoke)

    wb = d.add_parser("write-broker-config", help="write Mosquitto's password file and ACL from the registry")
    wb.add_argument("--passwd", required=True, metavar="FILE")
    wb.add_argument("--acl", required=True, metavar="FILE")
    wb.add_argument("--mode", default="600", help="octal file mode (640: readable by the file's group)")
    wb.set_defaults(func=_write_broker_config)


def _fail(exc: Exception) -> Exception:
    from foreshock.cli import CliError

    return CliError(str(exc))


def _run(func, args, settings) -> int:
    try:
        return func(open_registry(settings), args, settings)
    except (RegistryError, ValueError, OSError) as exc:
        raise _fail(exc) from None


def _unit_fields(args) -> dict[str, Any]:
    fields = {k: getattr(args, k) for k in _UNIT_FIELDS if getattr(args, k) is not None}
    if args.tags is not None:
        fields["tags"] = args.tags
    return fields


def _filter(args) -> UnitFilter:
    return UnitFilter(
        model=args.model, customer=args.customer, site=args.site, batch=args.batch, firmware=args.firmware,
        tag=args.tag, presence=args.presence, serial_from=args.serial_from, serial_to=args.serial_to,
        include_decommissioned=args.all,
    )


def unit_dict(unit: Unit) -> dict[str, Any]:
    """A unit as plain JSON-able data (no credential hash)."""
    return {
        "device_id": unit.device_id, "model": unit.model_name, "customer": unit.customer, "site": unit.site,
        "install_date": unit.install_date.isoformat() if unit.install_date else None,
        "firmware": unit.firmware,
        "warranty_end": unit.warranty_end.isoformat() if unit.warranty_end else None,
        "batch": unit.batch, "tags": list(unit.tags or []), "auto_registered": unit.auto_registered,
        "decommissioned_at": unit.decommissioned_at.isoformat() if unit.decommissioned_at else None,
        "provisioned": unit.provisioned, "presence": unit.presence, "last_seen_ms": unit.last_seen_ms,
    }


def model_dict(model: MachineModel) -> dict[str, Any]:
    return {
        "name": model.name, "description": model.description, "rated_rpm": model.rated_rpm,
        "bearing": model.bearing, "iso_group": model.iso_group, "foundation": model.foundation,
        "zone_limits_mm_s": model.zone_limits_mm_s, "sensors": model.sensors,
        "reporting_interval_s": model.reporting_interval_s, "detector_config": model.detector_config,
    }


def _add(args, settings) -> int:
    def go(reg, a, s) -> int:
        reg.create_unit(a.device_id, **_unit_fields(a))
        print(f"unit {a.device_id} added")
        return 0

    return _run(go, args, settings)


def _update(args, settings) -> int:
    def go(reg, a, s) -> int:
        fields = _unit_fields(a)
        for name in a.clear:
            fields[name] = [] if name == "tags" else None
        if not fields:
            raise ValueError("nothing to change: give at least one field flag or --clear")
        reg.update_unit(a.device_id, **fields)
        print(f"unit {a.device_id} updated")
        return 0

    return _run(go, args, settings)


def _list(args, settings) -> int:
    def go(reg, a, s) -> int:
        units = reg.list_units(_filter(a))
        if a.json:
            print(json.dumps([unit_dict(u) for u in units], indent=2))
            return 0
        print(f"{'ID':<20} {'MODEL':<14} {'CUSTOMER':<20} {'BATCH':<10} {'FIRMWARE':<10} {'PRESENCE':<8} CRED")
        for u in units:
            print(f"{u.device_id:<20} {u.model_name or '-':<14} {u.customer or '-':<20} {u.batch or '-':<10} "
                  f"{u.firmware or '-':<10} {u.presence:<8} {'yes' if u.provisioned else 'no'}"
                  + ("  (decommissioned)" if not u.active else ""))
        print(f"{len(units)} unit(s)", file=sys.stderr)
        return 0

    return _run(go, args, settings)


def _show(args, settings) -> int:
    def go(reg, a, s) -> int:
        print(json.dumps(unit_dict(reg.require_unit(a.device_id)), indent=2))
        return 0

    return _run(go, args, settings)


def _decommission(args, settings) -> int:
    def go(reg, a, s) -> int:
        reg.decommission(a.device_id)
        print(f"unit {a.device_id} decommissioned; rewrite the broker config to cut it off")
        return 0

    return _run(go, args, settings)


def _import(args, settings) -> int:
    from devices.csvio import import_units

    def go(reg, a, s) -> int:
        with open(a.file, encoding="utf-8-sig", newline="") as fh:
            created, updated = import_units(reg, fh)
        print(f"{created} unit(s) created, {updated} updated")
        return 0

    return _run(go, args, settings)


def _export(args, settings) -> int:
    from devices.csvio import export_units

    def go(reg, a, s) -> int:
        if a.file is None:
            export_units(reg, sys.stdout, _filter(a))
            return 0
        with open(a.file, "w", encoding="utf-8", newline="") as fh:
            n = export_units(reg, fh, _filter(a))
        print(f"{n} unit(s) written to {a.file}", file=sys.stderr)
        return 0

    return _run(go, args, settings)


def _read_models_file(path: str) -> list[dict[str, Any]]:
    text = Path(path).read_text(encoding="utf-8")
    try:
        doc: Any = json.loads(text) if path.endswith(".json") else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: not valid {'JSON' if path.endswith('.json') else 'TOML'}: {exc}") from None
    if isinstance(doc, dict) and "models" in doc:
        doc = doc["models"]
    items = doc if isinstance(doc, list) else [doc]
    if not all(isinstance(m, dict) for m in items):
        raise ValueError(f"{path}: expected a model object, a list of them, or [[models]] tables")
    return items


def _models_add(args, settings) -> int:
    from devices.schemas import ModelIn, validate

    def go(reg, a, s) -> int:
        if a.file:
            items = _read_models_file(a.file)
        else:
            if not a.name:
                raise ValueError("give --file or at least --name")
            item: dict[str, Any] = {"name": a.name}
            for key in ("description", "rated_rpm", "iso_group", "foundation", "reporting_interval_s"):
                if getattr(a, key) is not None:
                    item[key] = getattr(a, key)
            if a.n_balls is not None or a.ball_d is not None or a.pitch_d is not None:
                item["bearing"] = {"n_balls": a.n_balls, "ball_d": a.ball_d, "pitch_d": a.pitch_d,
                                   "contact_deg": a.contact_deg}
            if a.zone_limits:
                item["zone_limits_mm_s"] = [x.strip() for x in a.zone_limits.split(",")]
            if a.sensors:
                item["sensors"] = [x.strip() for x in a.sensors.split(",") if x.strip()]
            if a.detector_config:
                try:
                    item["detector_config"] = json.loads(a.detector_config)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"--detector-config: not valid JSON: {exc}") from None
            items = [item]
        for i, item in enumerate(items):  # validate all before adding any
            try:
                validate(ModelIn, item)
            except RegistryError as exc:
                raise ValueError(f"model #{i + 1} ({item.get('name', '?')}): {exc}") from None
        for item in items:
            fields = dict(item)
            reg.create_model(fields.pop("name"), **fields)
            print(f"model {item['name']} added")
        return 0

    return _run(go, args, settings)


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

    return _run(go, args, settings)


def _provision(args, settings) -> int:
    def go(reg, a, s) -> int:
        password = reg.provision(a.device_id)
        print(f"username: {a.device_id}\npassword: {password}")
        print("The password is shown only this once; only its hash is stored. "
              "Run `foreshock devices write-broker-config` and reload the broker.", file=sys.stderr)
        return 0

    return _run(go, args, settings)


def _revoke(args, settings) -> int:
    def go(reg, a, s) -> int:
        had = reg.revoke(a.device_id)
        print(f"unit {a.device_id}: " + ("credential revoked" if had else "had no credential"))
        return 0

    return _run(go, args, settings)


def _write_broker_config(args, settings) -> int:
    from devices.broker_config import write_broker_config

    def go(reg, a, s) -> int:
        password = s.mqtt.password.get_secret_value() if s.mqtt.password else None
        try:
            mode = int(a.mode, 8)
        except ValueError:
            raise ValueError(f"--mode: {a.mode!r} is not an octal file mode such as 600 or 640") from None
        cfg = write_broker_config(
            reg, passwd_path=a.passwd, acl_path=a.acl, platform_user=s.mqtt.username,
            platform_password=password, root=s.mqtt.topic_root, file_mode=mode,
        )
        print(f"{cfg.units} unit(s) written to {cfg.passwd_path} and {cfg.acl_path}; "
              "reload the broker (SIGHUP) to apply")
        return 0

    return _run(go, args, settings)
