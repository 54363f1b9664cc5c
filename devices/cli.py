"""``foreshock devices ...``: the registry of units, machine models and broker credentials."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from devices.errors import RegistryError
from devices.models import Unit
from devices.query import UnitFilter
from foreshock.durations import duration_text

__all__ = ["register", "open_registry", "run", "unit_dict"]

_UNIT_FIELDS = ("model", "customer", "site", "install_date", "firmware", "warranty_end", "batch")


def open_registry(settings) -> Any:
    """A :class:`devices.registry.Registry` on ``settings.database_url``, migrated to the latest schema.

    A database whose upgrade waits for units with serials that differ only in letter case to be
    resolved (:class:`devices.serials.SerialCaseDuplicates`) is opened as it is, with a warning: the
    ``devices`` commands are how they are resolved."""
    from devices.registry import Registry
    from devices.serials import SerialCaseDuplicates
    from foreshock.db import make_engine, migrate, session_factory

    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
    except SerialCaseDuplicates as exc:
        # the tables this code reads (d1a3_relearn: the unit's relearn request), without that index
        _upgrade_devices_to(engine, "d1a3_relearn")
        print(f"foreshock: warning: {len(exc.groups)} group(s) of units in service have serial numbers that differ "
              "only in letter case, so the database upgrade waits ('foreshock db upgrade' says which and what to "
              "do; 'foreshock devices list' marks them)", file=sys.stderr)
    # the service's [devices] settings, so that e.g. `devices silent` sees units as its deadman does
    return Registry(session_factory(engine), **settings.devices.model_dump())


def _upgrade_devices_to(engine, revision: str) -> None:
    """Upgrade the database's ``devices`` branch (only) to ``revision``."""
    from alembic import command

    from foreshock.db import _PG_UPGRADE_LOCK, _alembic_config

    cfg = _alembic_config(engine)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":  # one upgrade at a time, as foreshock.db.upgrade takes them
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_UPGRADE_LOCK})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def _unit_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="machine model name (see `devices models list`)")
    p.add_argument("--customer", help="the customer it was sold to")
    p.add_argument("--site", help="where it is installed (plant, line)")
    p.add_argument("--install-date", metavar="YYYY-MM-DD", help="day it was installed")
    p.add_argument("--firmware", help="firmware version (a unit's status message updates it)")
    p.add_argument("--warranty-end", metavar="YYYY-MM-DD", help="last day of its warranty")
    p.add_argument("--batch", help="production batch / bearing lot")
    p.add_argument("--tag", action="append", dest="tags", metavar="TAG", help="repeat for several tags")


def _filter_flags(p: argparse.ArgumentParser) -> None:
    for name in ("model", "customer", "site", "batch", "firmware", "tag"):
        p.add_argument(f"--{name}", help=f"only units with this {name}")
    p.add_argument("--presence", choices=["unknown", "online", "offline"],
                   help="only units last reported so (unknown: never seen since provisioning)")
    p.add_argument("--serial-from", metavar="SERIAL", help="first serial of a range, with --serial-to (P-1 .. P-99 "
                   "compares the numeric tails)")
    p.add_argument("--serial-to", metavar="SERIAL", help="last serial of the range (included)")
    p.add_argument("--all", action="store_true", help="include decommissioned units")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("devices", help="registry of sold units, machine models and broker credentials")
    d = p.add_subparsers(dest="devices_command", metavar="ACTION", required=True)

    a = d.add_parser("add", help="register a unit")
    a.add_argument("device_id", metavar="ID", help="serial number = MQTT device id (unique whatever its letter "
                   "case; the other commands find a unit by its serial in any case)")
    _unit_flags(a)
    a.set_defaults(func=_add)

    ls = d.add_parser("list", help="list units")
    _filter_flags(ls)
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(func=_list)

    s = d.add_parser("show", help="show one unit")
    s.add_argument("device_id", metavar="ID", help="serial number (any letter case)")
    s.set_defaults(func=_show)

    u = d.add_parser("update", help="change fields of a unit")
    u.add_argument("device_id", metavar="ID", help="serial number (any letter case)")
    _unit_flags(u)
    u.add_argument("--clear", action="append", default=[], choices=[*_UNIT_FIELDS, "tags"], help="clear a field")
    u.set_defaults(func=_update)

    dc = d.add_parser("decommission", help="take units out of service (revokes their broker access)")
    dc.add_argument("device_ids", metavar="ID", nargs="+", help="one or more serial numbers (all must be registered)")
    dc.set_defaults(func=_decommission)

    rc = d.add_parser("recommission", help="put a decommissioned unit back in service (provision it again)")
    rc.add_argument("device_id", metavar="ID", help="serial number of a decommissioned unit")
    rc.set_defaults(func=_recommission)

    rl = d.add_parser("relearn", help="learn units' detector baselines afresh (after a repair; or accept the "
                                      "defect lines they show now as their normal)")
    rl.add_argument("device_ids", metavar="ID", nargs="+", help="one or more serial numbers (all must be registered "
                    "and in service)")
    rl.add_argument("--accept-current", action="store_true",
                    help="the defect lines the units show now are their normal (a frame resonance a technician has "
                         "judged): the commissioning check warns only on a line growing above them")
    rl.add_argument("--reason", help="why (shown in the units' health until the baseline is learnt)")
    rl.add_argument("--by", metavar="NAME", help="who asks (default: the login name)")
    rl.set_defaults(func=_relearn)

    im = d.add_parser("import", help="import units from CSV (all or nothing)")
    im.add_argument("file", metavar="FILE.csv", help="CSV with a header line: device_id and the columns `devices export` writes")
    im.set_defaults(func=_import)

    ex = d.add_parser("export", help="export units as CSV (to stdout without FILE)")
    ex.add_argument("file", metavar="FILE.csv", nargs="?", help="file to write (default: stdout)")
    _filter_flags(ex)
    ex.set_defaults(func=_export)

    from devices.cli_broker import register_broker
    from devices.cli_models import register_models

    register_models(d)
    register_broker(d)


def _fail(exc: Exception) -> Exception:
    from foreshock.cli import CliError, describe_os_error

    return CliError(describe_os_error(exc) if isinstance(exc, OSError) else str(exc))


def run(func, args, settings) -> int:
    """Call ``func(registry, args, settings)``; registry errors become the CLI's clear errors."""
    try:
        return func(open_registry(settings), args, settings)
    except BrokenPipeError:  # the reader of the output went away (| head): the CLI's main says nothing
        raise
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


def unit_dict(unit: Unit, silent_for_s: float | None = None) -> dict[str, Any]:
    """A unit as plain JSON-able data (no credential hash); ``silent_for_s``: how long it has been
    silent, when the deadman counts it silent (None: it is not)."""
    from devices.registry import relearn_of

    return {
        "device_id": unit.device_id, "model": unit.model_name, "customer": unit.customer, "site": unit.site,
        "install_date": unit.install_date.isoformat() if unit.install_date else None,
        "firmware": unit.firmware,
        "warranty_end": unit.warranty_end.isoformat() if unit.warranty_end else None,
        "batch": unit.batch, "tags": list(unit.tags or []), "auto_registered": unit.auto_registered,
        "decommissioned_at": unit.decommissioned_at.isoformat() if unit.decommissioned_at else None,
        "provisioned": unit.provisioned, "presence": unit.presence, "last_seen_ms": unit.last_seen_ms,
        "silent": silent_for_s is not None, "silent_for_s": silent_for_s,
        "relearn": relearn_of(unit),
    }


def _add(args, settings) -> int:
    def go(reg, a, s) -> int:
        reg.create_unit(a.device_id, **_unit_fields(a))
        print(f"unit {a.device_id} added")
        return 0

    return run(go, args, settings)


def _update(args, settings) -> int:
    def go(reg, a, s) -> int:
        fields = _unit_fields(a)
        for name in a.clear:
            fields[name] = [] if name == "tags" else None
        if not fields:
            raise ValueError("nothing to change: give at least one field flag or --clear")
        unit = reg.update_unit(reg.registered_serial(a.device_id), **fields)
        print(f"unit {unit.device_id} updated")
        return 0

    return run(go, args, settings)


def _list(args, settings) -> int:
    def go(reg, a, s) -> int:
        from devices.protocol import now_ms

        units = reg.list_units(_filter(a))
        twins = _case_twins_listed(units)
        # "online" is what the unit's last status said: a unit the broker cut off at a reload (a rotated or
        # revoked credential) gets no last will, so the deadman's view is shown beside it
        silent = {s.device_id: s.silent_for_s for s in reg.silent_units(now_ms())}
        if a.json:
            print(json.dumps([unit_dict(u, silent.get(u.device_id)) for u in units], indent=2))
            return 0
        print(f"{'ID':<20} {'MODEL':<14} {'CUSTOMER':<20} {'BATCH':<10} {'FIRMWARE':<10} {'PRESENCE':<8} CRED")
        for u in units:
            quiet = silent.get(u.device_id)
            print(f"{u.device_id:<20} {u.model_name or '-':<14} {u.customer or '-':<20} {u.batch or '-':<10} "
                  f"{u.firmware or '-':<10} {u.presence:<8} {'yes' if u.provisioned else 'no'}"
                  + ("  (decommissioned)" if not u.active else "")
                  + (f"  (silent {duration_text(quiet)})" if quiet is not None else "")
                  + (f"  (same serial as {', '.join(twins[u.device_id])} but for letter case)"
                     if u.device_id in twins else ""))
        print(f"{len(units)} unit(s)", file=sys.stderr)
        return 0

    return run(go, args, settings)


def _case_twins_listed(units: list[Unit]) -> dict[str, list[str]]:
    """For each listed unit in service, the others in service whose serial differs only in letter case
    (a database from before serials were unique whatever their case, waiting for its upgrade)."""
    from devices.serials import serial_key

    groups: dict[str, list[str]] = {}
    for u in units:
        if u.active:
            groups.setdefault(serial_key(u.device_id), []).append(u.device_id)
    return {d: [o for o in g if o != d] for g in groups.values() if len(g) > 1 for d in g}


def registered_ids(reg, typed: list[str], nothing_done: str, *, note: bool = False) -> list[str]:
    """The serials typed, each as registered (a serial typed in another letter case is the unit's), once each
    in the order given; ``ValueError`` naming every one no unit has, ending with ``nothing_done``. With
    ``note``, a serial registered in another case is said on stderr (it is the unit's broker username)."""
    given = list(dict.fromkeys(typed))
    registered = reg.registered_serials(given)
    missing = sorted(set(given) - set(registered))
    if missing:
        raise ValueError(f"no unit {', '.join(map(repr, missing))} is registered; {nothing_done}")
    if note:
        for d in given:
            if registered[d] != d:
                print(f"note: {d!r} is registered as {registered[d]!r}: that is its broker username (the broker "
                      "compares usernames exactly)", file=sys.stderr)
    return list(dict.fromkeys(registered[d] for d in given))


def _show(args, settings) -> int:
    def go(reg, a, s) -> int:
        from devices.protocol import now_ms

        unit = reg.require_unit(reg.registered_serial(a.device_id))
        now = now_ms()
        presence = reg.presence(unit.device_id, now_ms=now)
        quiet = (now - presence.last_seen_ms) / 1000.0 if presence is not None and presence.silent else None
        print(json.dumps(unit_dict(unit, quiet), indent=2))
        return 0

    return run(go, args, settings)


def _decommission(args, settings) -> int:
    def go(reg, a, s) -> int:
        # checked first: a scrap list with a typo takes none out, rather than some
        units = reg.units_by_id(registered_ids(reg, a.device_ids, "nothing was decommissioned"))
        for unit in units:
            if not unit.active:
                print(f"unit {unit.device_id} was already decommissioned on {unit.decommissioned_at:%Y-%m-%d}")
                continue
            reg.decommission(unit.device_id)
            print(f"unit {unit.device_id} decommissioned")
        print("rewrite the broker config (write-broker-config) and reload the broker to cut them off", file=sys.stderr)
        return 0

    return run(go, args, settings)


def _recommission(args, settings) -> int:
    def go(reg, a, s) -> int:
        device_id = reg.registered_serial(a.device_id)
        if reg.require_unit(device_id).active:
            print(f"unit {device_id} is in service (it was not decommissioned); nothing changed")
            return 0
        reg.recommission(device_id)
        print(f"unit {device_id} is back in service; it has no broker credential: "
              f"foreshock devices provision {device_id}, then write-broker-config and reload the broker")
        return 0

    return run(go, args, settings)


def _relearn(args, settings) -> int:
    def go(reg, a, s) -> int:
        # checked first: a list with a typo asks for none, rather than some
        units = reg.units_by_id(registered_ids(reg, a.device_ids, "no relearn was requested"))
        if gone := [u.device_id for u in units if not u.active]:
            raise ValueError(f"unit(s) {', '.join(gone)} decommissioned: nothing to relearn; no relearn was requested")
        by = a.by if a.by is not None else _login()
        for unit in units:
            reg.request_relearn(unit.device_id, accept_current=a.accept_current, reason=a.reason, by=by)
            print(f"unit {unit.device_id}: baseline relearn requested"
                  + (", accepting the defect lines it shows now as its normal" if a.accept_current else ""))
        print("the detection service applies it within seconds, with the unit's next message", file=sys.stderr)
        return 0

    return run(go, args, settings)


def _login() -> str | None:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without one)
        return None


def _import(args, settings) -> int:
    import io

    from devices.csvio import decode_csv, import_units

    def go(reg, a, s) -> int:
        with open(a.file, "rb") as fh:
            text = decode_csv(fh.read())
        counts = import_units(reg, io.StringIO(text, newline=""),
                              progress=lambda line: print(f"{a.file}: {line}", file=sys.stderr, flush=True))
        created, updated = counts
        unchanged = getattr(counts, "unchanged", 0)
        print(f"{created} unit(s) created, {updated} updated"
              + (f" ({unchanged} of them already as in the file)" if unchanged else ""))
        return 0

    return run(go, args, settings)


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

    return run(go, args, settings)
