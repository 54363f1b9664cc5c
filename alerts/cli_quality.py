"""``foreshock complaints`` and ``foreshock actions``: complaints and corrective actions on the command line.

Examples::

    foreshock complaints email mail.eml --by gateway       # a raw RFC 822 message, e.g. piped from Postfix
    foreshock complaints list --ticket PF202611001
    foreshock complaints list --offset 200                  # the next 200 of the newest first
    foreshock actions add --title "New bearing supplier" --batch 2026-W31 --applied 2026-03-02 \\
        --modes outer_race,inner_race,ball --baseline-d 56 --ticket PF202602014
    foreshock actions list
    foreshock actions verify 3
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from alerts.cli import add_page_args, page_args, print_list_json, shown

__all__ = ["register"]


def register(sub: argparse._SubParsersAction, who: str, guard: Any) -> None:
    c = sub.add_parser("complaints", help="customer complaints")
    csub = c.add_subparsers(dest="complaints_command", metavar="ACTION", required=True)
    p = csub.add_parser("email", help="register a complaint from a raw email (file or - for stdin)")
    p.add_argument("file", help="the RFC 822 message")
    p.add_argument("--by", default=who, help="who (recorded in the audit trail; default: login name)")
    p.set_defaults(func=guard(_complaint_email))
    p = csub.add_parser("list", help="complaints, newest first")
    p.add_argument("--ticket", help="only complaints linked to this ticket")
    p.add_argument("--device", help="only this unit (its serial in any letter case)")
    add_page_args(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=guard(_complaint_list))

    a = sub.add_parser("actions", help="corrective actions and their verification by data")
    asub = a.add_subparsers(dest="actions_command", metavar="ACTION", required=True)
    p = asub.add_parser("add", help="record a corrective action with its scope and date")
    p.add_argument("--title", required=True, help="what was changed (e.g. a new bearing supplier)")
    p.add_argument("--applied", required=True, help="YYYY-MM-DD (UTC) or ISO 8601")
    for key in ("model", "batch", "firmware", "serial-from", "serial-to"):
        p.add_argument(f"--{key}", help=f"scope: {key.replace('-', ' ')}")
    p.add_argument("--modes", default="", help="failure modes, comma-separated (default: all)")
    p.add_argument("--baseline-d", type=float, default=90.0, help="days before the action to compare with")
    p.add_argument("--target-ratio", type=float, default=0.7, help="the smallest reduction worth having, as a "
                   "ratio of failure rates after / before: an action whose whole interval lies above it is not effective "
                   "(default 0.7: 30 %%; docs/complaints.md)")
    p.add_argument("--ticket", help="the ticket whose D6/D7 receives the verdict")
    p.add_argument("--by", default=who, help="who (recorded in the audit trail; default: login name)")
    p.set_defaults(func=guard(_action_add))
    p = asub.add_parser("list", help="corrective actions with their last verdict")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=guard(_action_list))
    p = asub.add_parser("verify", help="compare failure rates now and store the verdict")
    p.add_argument("action_id", type=int, help="the action's id (first column of `actions list`)")
    p.add_argument("--by", default=who, help="who (recorded in the audit trail; default: login name)")
    p.set_defaults(func=guard(_action_verify))


def _desk(settings: Any):
    from alerts.complaint_desk import ComplaintDesk
    from alerts.service import AlertService
    from devices.registry import Registry
    from foreshock.db import make_engine, migrate, session_factory

    engine = make_engine(settings.database_url)
    migrate(engine)
    sf = session_factory(engine)
    return ComplaintDesk(AlertService(sf, registry=Registry(sf), config=settings.alerts))


def _complaint_email(args, settings) -> int:
    from alerts.inbound import check_email

    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the email {args.file}: {exc.strerror or exc}") from None
    out = _desk(settings).register(check_email(raw), actor=args.by)
    if not out.get("created", True):
        ref = str(out["external_ref"]).removeprefix("email:")
        print(f"complaint {out['id']} was already registered (same Message-ID {ref}) on ticket {out['ticket']}: "
              "nothing changed")
        return 0
    how = "joined" if out["joined"] else "opened"
    warned = f", warned {out['warning_lead_s'] / 3600:.1f} h before" if out["preceded_by_warning"] else ""
    print(f"complaint {out['id']} from {out['customer']} {how} ticket {out['ticket']}{warned}")
    return 0


def _complaint_list(args, settings) -> int:
    limit, offset = page_args(args)
    rows, count = _desk(settings).list_complaints(ticket=args.ticket, device_id=args.device, limit=limit,
                                                  offset=offset)
    if args.json:
        print_list_json(rows, "complaint(s)", offset, count)
        return 0
    for c in rows:
        lead = f"{c['warning_lead_s'] / 3600:.1f} h" if c["preceded_by_warning"] else "no"
        print(f"{c['id']:>6}  {c['ticket']:<14} {c['customer']:<16} {c['device_id'] or '-':<12} {c['request']:<11} "
              f"{c['channel']:<9} warned before: {lead}")
    print(shown("complaint(s)", offset, len(rows), count))
    return 0


def _when(text: str) -> float:
    from alerts.complaints import check_instant

    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--applied must be YYYY-MM-DD or ISO 8601, got {text!r}") from None
    try:
        return check_instant(t).timestamp()
    except ValueError as exc:
        raise ValueError(f"--applied: {exc}") from None


def _action_add(args, settings) -> int:
    from alerts.corrective import scope_text

    scope = {k: getattr(args, k) for k in ("model", "batch", "firmware", "serial_from", "serial_to")}
    a = _desk(settings).create_action(
        actor=args.by, ticket=args.ticket, title=args.title, scope=scope, applied_at=_when(args.applied),
        failure_modes=[m for m in args.modes.split(",") if m.strip()], baseline_d=args.baseline_d,
        target_ratio=args.target_ratio)
    print(f"corrective action {a['id']} recorded: {a['title']} (scope: {scope_text(a['scope'])}) "
          f"from {a['applied_at']}")
    return 0


def _action_list(args, settings) -> int:
    rows = _desk(settings).list_actions()
    if args.json:
        print(json.dumps(rows, indent=2, sort_keys=True, default=str))
        return 0
    for a in rows:
        v = a["verdict"] or {}
        print(f"{a['id']:>4}  {a['applied_at'][:10]}  {a['title'][:40]:<40} {v.get('verdict', 'not verified')}")
    print(f"{len(rows)} action(s)")
    return 0


def _action_verify(args, settings) -> int:
    a = _desk(settings).verify_action(args.action_id, actor=args.by)
    print(f"corrective action {a['id']}: {a['verdict']['statement']}")
    return 0
