"""``foreshock devices provision|revoke|write-broker-config|silent``: credentials, broker files, presence."""

from __future__ import annotations

import argparse
import json
import sys

from devices.cli import registered_ids, run

__all__ = ["register_broker"]


def register_broker(d: argparse._SubParsersAction) -> None:
    pv = d.add_parser("provision", help="give units new MQTT credentials (printed once)")
    pv.add_argument("device_ids", metavar="ID", nargs="*", help="serial numbers; several (or --unprovisioned) "
                    "print CSV lines username,password")
    pv.add_argument("--unprovisioned", action="store_true", help="every unit in service that has no credential")
    pv.set_defaults(func=_provision)
    rv = d.add_parser("revoke", help="remove a unit's MQTT credentials")
    rv.add_argument("device_id", metavar="ID", help="serial number; write the broker files and reload the "
                    "broker afterwards")
    rv.set_defaults(func=_revoke)

    wb = d.add_parser("write-broker-config", help="write Mosquitto's password file and ACL from the registry")
    wb.add_argument("--passwd", required=True, metavar="FILE", help="Mosquitto's password_file to write (e.g. "
                    "/etc/mosquitto/foreshock.passwd): the platform's user (mqtt.username) and every provisioned unit")
    wb.add_argument("--acl", required=True, metavar="FILE", help="Mosquitto's acl_file to write (e.g. "
                    "/etc/mosquitto/foreshock.acl): each unit may publish only under its own id")
    wb.add_argument("--mode", help="octal file mode: 600, or 640 (readable by the file's group). Default: "
                    "640 with --group, else the mode of the files replaced, else 600")
    wb.add_argument("--group", help="give both files to this group, the one the broker runs as "
                    "(mosquitto for Debian's package); replaced files otherwise keep their group")
    wb.set_defaults(func=_write_broker_config)

    si = d.add_parser("silent", help="units silent for longer than their model's reporting interval x N")
    si.add_argument("--json", action="store_true", help="print JSON instead of a table")
    si.set_defaults(func=_silent)


def _provision(args, settings) -> int:
    def go(reg, a, s) -> int:
        from devices.provisioning import check_broker_username
        from devices.query import UnitFilter

        # the username is the serial as registered, in its letter case
        ids = registered_ids(reg, a.device_ids, "no unit was provisioned", note=True)
        if a.unprovisioned:
            ids += [u.device_id for u in reg.list_units(UnitFilter()) if not u.provisioned and u.device_id not in ids]
        elif not ids:
            raise ValueError("give the serial numbers of the units to provision, or --unprovisioned")
        if len(ids) == 1 and not a.unprovisioned:
            password = reg.provision(ids[0])
            print(f"username: {ids[0]}\npassword: {password}")
            print("The password is shown only this once; only its hash is stored. "
                  "Run `foreshock devices write-broker-config` and reload the broker.", file=sys.stderr)
            return 0
        # A batch (the units sold last quarter): every serial is checked before any credential changes,
        # then one CSV line per unit, for the station that loads them into the units.
        units = {u.device_id: u for u in reg.units_by_id(ids)}
        for device_id in ids:
            if device_id not in units:
                raise ValueError(f"no unit {device_id!r} is registered; no unit was provisioned")
            if not units[device_id].active:
                raise ValueError(f"unit {device_id!r} is decommissioned and cannot be provisioned; "
                                 "no unit was provisioned")
            check_broker_username(device_id)
        print("username,password", flush=True)
        for device_id in ids:
            print(f"{device_id},{reg.provision(device_id)}", flush=True)
        print(f"{len(ids)} unit(s) provisioned. The passwords are shown only this once; only their hashes are "
              "stored. Run `foreshock devices write-broker-config` and reload the broker.", file=sys.stderr)
        return 0

    return run(go, args, settings)


def _revoke(args, settings) -> int:
    def go(reg, a, s) -> int:
        device_id = reg.registered_serial(a.device_id)
        had = reg.revoke(device_id)
        print(f"unit {device_id}: " + ("credential revoked" if had else "had no credential"))
        return 0

    return run(go, args, settings)


def _write_broker_config(args, settings) -> int:
    from devices.broker_config import write_broker_config

    def go(reg, a, s) -> int:
        password = s.mqtt.password.get_secret_value() if s.mqtt.password else None
        mode_text = a.mode or ("640" if a.group else None)
        try:
            mode = None if mode_text is None else int(mode_text, 8)
        except ValueError:
            raise ValueError(f"--mode: {a.mode!r} is not an octal file mode such as 600 or 640") from None
        cfg = write_broker_config(
            reg, passwd_path=a.passwd, acl_path=a.acl, platform_user=s.mqtt.username,
            platform_password=password, root=s.mqtt.topic_root, file_mode=mode, group=a.group,
        )
        print(f"{cfg.units} unit(s) written to {cfg.passwd_path} and {cfg.acl_path}; "
              "reload the broker (SIGHUP) to apply")
        _warn_if_broker_cannot_read(cfg.passwd_path, cfg.acl_path)
        if not s.mqtt.username:
            print("warning: mqtt.username is not set, so the files have no user for Foreshock itself: with "
                  "allow_anonymous false, foreshock run cannot connect. Set mqtt.username and mqtt.password "
                  "(FORESHOCK_MQTT__USERNAME, FORESHOCK_MQTT__PASSWORD) and write the files again.", file=sys.stderr)
        return 0

    return run(go, args, settings)


def _warn_if_broker_cannot_read(*paths, broker_user: str = "mosquitto") -> None:
    """Warn when the broker's usual account exists and could not read the files (it refuses everyone then)."""
    from devices.broker_config import readable_by

    unreadable = [str(p) for p in paths if readable_by(p, broker_user) is False]
    if unreadable:
        print(f"warning: user {broker_user!r} cannot read {' and '.join(unreadable)}. Mosquitto as packaged "
              f"(Debian, Ubuntu) runs as {broker_user!r}: after the reload it could not open the password file and "
              f"would refuse every client, Foreshock included. Write them with --group {broker_user} (mode 640), "
              "unless your broker runs as another user.", file=sys.stderr)


def _silent(args, settings) -> int:
    from devices.protocol import now_ms

    def go(reg, a, s) -> int:
        silent = reg.silent_units(now_ms())
        if a.json:
            print(json.dumps([u.__dict__ for u in silent], indent=2))
            return 0
        for u in silent:
            print(f"{u.device_id:<20} silent {u.silent_for_s / 60:8.1f} min (limit {u.limit_s / 60:.1f} min) "
                  f"{u.presence:<8} {u.customer or '-'}")
        print(f"{len(silent)} silent unit(s)", file=sys.stderr)
        return 0

    return run(go, args, settings)
