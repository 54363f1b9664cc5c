"""``foreshock alerts``, ``foreshock tickets`` and ``foreshock report``: the service desk on the command line.

Examples::

    foreshock alerts list
    foreshock alerts ack 12 --by ana
    foreshock tickets list --open
    foreshock tickets show PF202611001
    foreshock tickets move PF202611001 triaged --by ana
    foreshock tickets assign PF202611001 --to ana --team field-service --by lead
    foreshock tickets comment PF202611001 "bearing replaced" --by ana
    foreshock tickets 8d PF202611001 D4 "grease contaminated by a failed seal" --by ana
    foreshock tickets feedback PF202611001 confirmed --actual-mode outer_race --cause "lubrication" --by ana
    foreshock report monthly --month 2026-11 --format csv --out nov.csv

``foreshock complaints …`` and ``foreshock actions …`` are in :mod:`alerts.cli_quality`.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from alerts.tickets import STATUSES, VERDICTS
from foreshock.jsontext import duplicated_key_counts

__all__ = ["add_page_args", "page_args", "print_list_json", "register", "shown"]


def _who() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "cli"


def register(sub: argparse._SubParsersAction) -> None:
    a = sub.add_parser("alerts", help="list and acknowledge alerts")
    asub = a.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    p = asub.add_parser("list", help="open alerts (--all for history)")
    p.add_argument("--all", action="store_true", help="include cleared alerts")
    p.add_argument("--device", help="only this unit (its serial in any letter case)")
    add_page_args(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_alerts_list)
    p = asub.add_parser("ack", help="acknowledge an alert (stops its ticket's response clock)")
    p.add_argument("alert_id", type=int, help="the alert's id (first column of `alerts list`)")
    p.add_argument("--by", default=_who(), help="who acknowledges (default: login name)")
    p.set_defaults(func=_alerts_ack)

    t = sub.add_parser("tickets", help="proactive quality tickets")
    tsub = t.add_subparsers(dest="tickets_command", metavar="ACTION", required=True)
    p = tsub.add_parser("list", help="tickets, newest first")
    p.add_argument("--open", action="store_true", help="only open tickets")
    p.add_argument("--status", choices=STATUSES, help="only tickets in this state")
    p.add_argument("--device", help="only this unit (its serial in any letter case)")
    add_page_args(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_tickets_list)
    p = tsub.add_parser("show", help="one ticket with its 8D record, audit trail and links (JSON)")
    p.add_argument("number", help="ticket number, e.g. PF202611001")
    p.set_defaults(func=_tickets_show)
    p = tsub.add_parser("move", help="change a ticket's state")
    p.add_argument("number", help="ticket number, e.g. PF202611001")
    p.add_argument("state", choices=STATUSES, help="the new state")
    p.add_argument("--note", default="", help="why (kept in the audit trail)")
    p.add_argument("--by", default=_who(), help="who (recorded in the audit trail; default: login name)")
    p.set_defaults(func=_tickets_move)
    p = tsub.add_parser("assign", help="assign to a person and/or a team")
    p.add_argument("number", help="ticket number, e.g. PF202611001")
    p.add_argument("--to", dest="assignee", help="the person who owns it")
    p.add_argument("--team", help="the team that owns it")
    p.add_argument("--by", default=_who(), help="who (recorded in the audit trail; default: login name)")
    p.set_defaults(func=_tickets_assign)
    p = tsub.add_parser("comment", help="add a comment")
    p.add_argument("number", help="ticket number, e.g. PF202611001")
    p.add_argument("text", help="the comment")
    p.add_argument("--by", default=_who(), help="who (recorded in the audit trail; default: login name)")
    p.set_defaults(func=_tickets_comment)
    p = tsub.add_parser("8d", help="set one 8D discipline (D2..D7): text, or JSON with --json")
    p.add_argument("number", help="ticket number, e.g. PF202611001")
    p.add_argument("discipline", help="D2, D3, D4, D5, D6 or D7")
    p.add_argument("content", help="the text ('-' reads it from stdin)")
    p.add_argument("--json", action="store_true", help="the content is JSON (an object, list, ...)")
    p.add_argument("--by", default=_who(), help="who (recorded in the audit trail; default: login name)")
    p.set_defaults(func=_tickets_8d)
    p = tsub.add_parser("feedback", help="closure feedback from the field ('withdraw --reason R' takes it back)")
    p.add_argument("number", help="ticket number, e.g. PF202611001")
    p.add_argument("verdict", choices=(*VERDICTS, "withdraw"),
                   help="confirmed (a fault was found: the one warned of, or --actual-mode another), false_alarm "
                        "(no fault of the machine; --actual-mode 'other: sensor loose' says what instead), or "
                        "withdraw (take back a verdict recorded by mistake; needs --reason)")
    p.add_argument("--reason", default="", help="withdraw: why the verdict is taken back")
    p.add_argument("--actual-mode", help="the failure mode found on site: outer_race, inner_race, ball, cage, bearing, "
                                         "imbalance, misalignment, looseness, lubrication, or 'other: <description>'")
    p.add_argument("--cause", default="", help="the root cause found on site")
    p.add_argument("--action", default="", help="what was done on site")
    p.add_argument("--by", default=_who(), help="who (recorded in the audit trail; default: login name)")
    p.set_defaults(func=_tickets_feedback)

    r = sub.add_parser("report", help="quality reports")
    rsub = r.add_subparsers(dest="report_command", metavar="REPORT", required=True)
    p = rsub.add_parser("monthly", help="TOP-5, Pareto, MTTA/MTTR, SLA compliance of one month")
    p.add_argument("--month", help="YYYY-MM (default: the month it is now in the report's time zone)")
    p.add_argument("--timezone", help="IANA time zone of the month's boundaries, e.g. Europe/Berlin "
                   "(default: alerts.report_timezone, UTC unless set)")
    p.add_argument("--format", choices=("json", "csv"), default="json", help="output format (default json)")
    p.add_argument("--out", type=Path, help="write to this file instead of stdout")
    p.set_defaults(func=_report_monthly)

    from alerts import cli_quality

    cli_quality.register(sub, _who(), _guard)


def _service(settings: Any):
    from alerts.service import AlertService
    from foreshock.db import make_engine, migrate, session_factory

    engine = make_engine(settings.database_url)
    migrate(engine)
    return AlertService(session_factory(engine), config=settings.alerts)


def _unit(svc: Any, serial: str | None) -> str | None:
    """``--device`` as registered when a unit has that serial in another letter case (``p-0001`` is unit
    ``P-0001``, under whose serial its alerts and tickets are stored), else as given."""
    if serial is None:
        return None
    from devices.registry import Registry

    return Registry(svc.session_factory).registered_serials([serial]).get(serial, serial)


def _guard(fn):
    """Bad input (unknown ticket, forbidden move...) becomes a CLI error naming it."""
    def wrapper(args, settings) -> int:
        from alerts.tickets import TicketError
        from foreshock.cli import CliError

        for name, value in vars(args).items():  # a file's name may be any bytes: only text that is stored
            if name not in _PATHS and isinstance(value, str) and (problem := not_utf8(value)):
                raise CliError(f"{name}: {value!r} is not UTF-8 text ({problem}); set the terminal to UTF-8 "
                               "(e.g. LANG=C.UTF-8) and type it again")
        try:
            return fn(args, settings)
        except (TicketError, ValueError) as exc:
            raise CliError(str(exc)) from None
    return wrapper


_PATHS = {"config", "file", "out"}  # arguments that name files


def loads_unique(text: str) -> Any:
    """``json.loads`` that refuses an object giving a key twice, naming the key and where (json.loads kept the last
    value silently: ``--json '{"cause": "a", "cause": "b"}'`` stored ``{"cause": "b"}``).

    >>> loads_unique('{"a": [{"k": 1, "k": 2}]}')
    Traceback (most recent call last):
    ...
    ValueError: --json: the content gives the key 'k' 2 times in one object (at a.0); give each key once
    """
    doc = json.loads(text)
    twice = duplicated_key_counts(text)
    if twice:
        where, key, n = twice[0]
        at = f" (at {'.'.join(str(p) for p in where)})" if where else ""
        raise ValueError(f"--json: the content gives the key {key!r} {n} times in one object{at}; give each key once")
    return doc


def not_utf8(text: str) -> str | None:
    """What makes a command-line argument not UTF-8 text, or None. Python holds each byte of an argument that
    is not UTF-8 (a terminal set to Latin-1) as a lone surrogate: stored, it made every API answer carrying it
    fail.

    >>> not_utf8("café"), not_utf8("caf\\udce9"), not_utf8("\\ud800")
    (None, 'byte 0xe9', 'a lone surrogate')
    """
    bad = next((ch for ch in text if "\ud800" <= ch <= "\udfff"), None)
    if bad is None:
        return None
    return f"byte 0x{ord(bad) - 0xDC00:02x}" if "\udc80" <= bad <= "\udcff" else "a lone surrogate"


def add_page_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--limit", type=int, default=200, help="at most this many (1..500, default 200)")
    p.add_argument("--offset", type=int, default=0, help="skip this many of the newest first")


def shown(noun: str, offset: int, n: int, count: int) -> str:
    """The footer of a list: how many there are, and which of them are shown when not all.

    >>> shown("complaint(s)", 0, 3, 3)
    '3 complaint(s)'
    >>> shown("complaint(s)", 0, 200, 250)
    '250 complaint(s); shown: 1-200, newest first (--offset 200 for the next)'
    >>> shown("complaint(s)", 300, 0, 250)
    '250 complaint(s); none shown at --offset 300'
    """
    if offset == 0 and n == count:
        return f"{count} {noun}"
    if n == 0:
        return f"{count} {noun}; none shown at --offset {offset}"
    more = f" (--offset {offset + n} for the next)" if offset + n < count else ""
    return f"{count} {noun}; shown: {offset + 1}-{offset + n}, newest first{more}"


def page_args(args) -> tuple[int, int]:
    if not 1 <= args.limit <= 500:
        raise ValueError(f"--limit must be 1..500, got {args.limit}")
    if args.offset < 0:
        raise ValueError(f"--offset must be 0 or more, got {args.offset}")
    return args.limit, args.offset


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=True, default=str))


def print_list_json(rows: list[Any], noun: str, offset: int, count: int) -> None:
    """A page of a list as JSON; when it is not the whole list, which part it is goes to stderr."""
    _print_json(rows)
    if offset or len(rows) < count:
        print(shown(noun, offset, len(rows), count), file=sys.stderr)


@_guard
def _alerts_list(args, settings) -> int:
    limit, offset = page_args(args)
    svc = _service(settings)
    rows, count = svc.page_alerts(open_only=not args.all, device_id=_unit(svc, args.device), limit=limit,
                                  offset=offset)
    if args.json:
        print_list_json(rows, "alert(s)", offset, count)
        return 0
    for a in rows:
        print(f"{a['id']:>6}  {a['device_id']:<20} {a['failure_mode']:<14} {a['severity']:<8} {a['grade']:<8} "
              f"{a['status']:<8} raised {a['raised_at']}  ticket {a['ticket'] or '-'}"
              f"{'  acked by ' + a['acknowledged_by'] if a['acknowledged_by'] else ''}")
    print(shown("alert(s)", offset, len(rows), count))
    return 0


@_guard
def _alerts_ack(args, settings) -> int:
    a = _service(settings).ack_alert(args.alert_id, actor=args.by)
    print(f"alert {a['id']} acknowledged by {a['acknowledged_by']}")
    return 0


@_guard
def _tickets_list(args, settings) -> int:
    limit, offset = page_args(args)
    svc = _service(settings)
    rows, count = svc.page_tickets(open_only=args.open, status=args.status, device_id=_unit(svc, args.device),
                                   limit=limit, offset=offset)
    if args.json:
        print_list_json(rows, "ticket(s)", offset, count)
        return 0
    for t in rows:
        who = t["assignee"] or t["team"] or "-"
        print(f"{t['number']:<14} {t['kind']:<5} {t['device_id'] or t['group_key'] or '':<20} "
              f"{t['failure_mode']:<14} {t['grade']:<8} {t['status']:<13} {who:<14} opened {t['opened_at']}")
    print(shown("ticket(s)", offset, len(rows), count))
    return 0


@_guard
def _tickets_show(args, settings) -> int:
    _print_json(_service(settings).get_ticket(args.number))
    return 0


@_guard
def _tickets_move(args, settings) -> int:
    t = _service(settings).move_ticket(args.number, args.state, actor=args.by, note=args.note)
    print(f"{t['number']} is now {t['status']}")
    return 0


@_guard
def _tickets_assign(args, settings) -> int:
    t = _service(settings).assign_ticket(args.number, actor=args.by, assignee=args.assignee, team=args.team)
    print(f"{t['number']} assigned to {t['assignee'] or '-'} / team {t['team'] or '-'}")
    return 0


@_guard
def _tickets_comment(args, settings) -> int:
    t = _service(settings).comment_ticket(args.number, args.text, actor=args.by)
    print(f"{t['number']}: {len(t['comments'])} comment(s)")
    return 0


@_guard
def _tickets_8d(args, settings) -> int:
    text = sys.stdin.read() if args.content == "-" else args.content
    if args.content == "-" and (problem := not_utf8(text)):  # the arguments are checked by _guard
        raise ValueError(f"content (stdin): {text[:60]!r} is not UTF-8 text ({problem}); save it as UTF-8")
    content: Any = text
    if args.json:
        try:
            content = loads_unique(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--json: the content is not valid JSON: {exc}") from None
    t = _service(settings).update_8d(args.number, args.discipline, content, actor=args.by)
    print(f"{t['number']}: {args.discipline.upper()} updated")
    return 0


@_guard
def _tickets_feedback(args, settings) -> int:
    # an option the verdict does not take was dropped without a word (--reason "sensor loose" on a false alarm)
    given = [opt for opt, value in (("--actual-mode", args.actual_mode), ("--cause", args.cause),
                                    ("--action", args.action)) if value]
    if args.verdict == "withdraw" and given:
        raise ValueError(f"withdraw takes --reason only, not {', '.join(given)}")
    if args.verdict != "withdraw" and args.reason:
        raise ValueError("--reason is for withdraw (why a verdict is taken back); what was found goes in --cause, "
                         "--action and --actual-mode")
    if args.verdict == "withdraw":
        t = _service(settings).withdraw_feedback(args.number, actor=args.by, reason=args.reason)
        print(f"{t['number']}: feedback withdrawn")
        return 0
    t = _service(settings).record_feedback(args.number, args.verdict, actor=args.by,
                                           actual_failure_mode=args.actual_mode, cause=args.cause, action=args.action)
    factor = (t["audit"][-1]["detail"] or {}).get("threshold_factor")
    note = "" if factor is None else f"; {t['device_id']}'s detector threshold factor is now {factor:g}"
    print(f"{t['number']}: feedback {t['feedback_verdict']} recorded{note}")
    return 0


@_guard
def _report_monthly(args, settings) -> int:
    from alerts.reports import current_month, monthly_report, report_csv

    svc = _service(settings)
    timezone = args.timezone or settings.alerts.report_timezone
    args.month = args.month or current_month(timezone)
    report = monthly_report(svc.session_factory, args.month, timezone=timezone)
    text = report_csv(report) if args.format == "csv" else json.dumps(report, indent=2, sort_keys=True) + "\n"
    if args.out:
        try:
            args.out.write_text(text, encoding="utf-8")
        except OSError as exc:  # a usage problem (exit 2) naming the path, not a bare errno (exit 1)
            raise ValueError(f"--out {args.out}: cannot write the report: {exc.strerror or exc}") from None
        print(f"monthly report {args.month} written to {args.out}")
    else:
        print(text, end="")
    return 0
