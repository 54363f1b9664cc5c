"""The ``foreshock`` command.

Each subcommand lives beside the part of the product it drives: a module named in
:data:`COMMANDS` exposes ``register(subparsers)``, which adds its parser and sets
``func(args, settings) -> int`` as the default. Errors go to stderr with a non-zero exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from foreshock import __version__
from foreshock.db import DatabaseVersionError, shown_url
from foreshock.settings import Settings, SettingsError, load_settings

__all__ = ["main", "CliError", "describe_os_error"]

# name -> module with register(subparsers); modules of parts not installed are skipped.
COMMANDS: dict[str, str] = {
    "demo": "foreshock.demo",
    "run": "foreshock.service",
    "simulate": "simulator.cli",
    "evaluate": "evaluation.cli",
    "devices": "devices.cli",
    "alerts": "alerts.cli",
    "tickets": "alerts.cli",
    "report": "alerts.cli",
    "complaints": "alerts.cli",
    "actions": "alerts.cli",
    "token": "api.cli",
    "db": "foreshock.db_cli",
}


class CliError(Exception):
    """A user-facing error: printed as ``foreshock: error: <message>``, exit code 2 unless given."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class _Parser(argparse.ArgumentParser):
    """argparse takes a value that starts with '-' (``--duration -1h``, ``--customer -ACME``) for an
    option and says only "expected one argument": the message then says how to write such a value.
    Subcommands' parsers are of the same class."""

    def error(self, message: str):  # type: ignore[override]
        if message.endswith(": expected one argument") and message.startswith("argument "):
            names = message[len("argument "):-len(": expected one argument")].split("/")
            name = next((n for n in names if n.startswith("--")), names[0])
            message += f" (a value that starts with '-' is written {name}=VALUE)"
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="foreshock",
        description="Foreshock: vibration telemetry in over MQTT; early fault warnings and quality tickets out.",
    )
    parser.add_argument("--version", action="version", version=f"foreshock {__version__}")
    parser.add_argument("--config", metavar="FILE", help="TOML settings file (see docs/configuration.md)")
    parser.add_argument("--log-level", type=str.upper, choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="override log level (any letter case)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    v = sub.add_parser("version", help="print the version")
    v.set_defaults(func=lambda args, settings: print(f"foreshock {__version__}") or 0, needs_settings=False)
    seen: set[str] = set()
    for name, module in COMMANDS.items():
        if module in seen:
            continue
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and module.startswith(exc.name):
                continue
            _broken(sub, name, module, exc)
            continue
        except Exception as exc:  # noqa: BLE001 - one broken part must not take the whole CLI down
            _broken(sub, name, module, exc)
            continue
        seen.add(module)
        mod.register(sub)
    return parser


def _broken(sub, name: str, module: str, exc: BaseException) -> None:
    """A subcommand whose module fails to import: it stays listed and says why when used."""
    message = f"the {name!r} command is unavailable: importing {module} failed: {type(exc).__name__}: {exc}"

    def fail(args, settings) -> int:
        raise CliError(message, exit_code=1)

    p = sub.add_parser(name, help="(unavailable: see the error when run)", add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=fail, needs_settings=False)


# HTTP client libraries log every request at INFO: one line per write to InfluxDB (many a second
# under load) and per webhook. Shown only with --log-level DEBUG; their warnings always.
_HTTP_CLIENT_LOGGERS = ("httpx", "httpcore", "urllib3", "influxdb_client")


def _quiet_http_clients(level: str | int) -> None:
    numeric = logging.getLevelName(level) if isinstance(level, str) else level
    quiet = not isinstance(numeric, int) or numeric > logging.DEBUG
    for name in _HTTP_CLIENT_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING if quiet else logging.NOTSET)


# options of foreshock itself, taken wherever they are written (see _hoist_global_options)
_GLOBAL_OPTIONS = ("--config", "--log-level")


def _hoist_global_options(words: list[str]) -> list[str]:
    """``foreshock run --config foreshock.toml`` as ``foreshock --config foreshock.toml run``.

    ``--config`` and ``--log-level`` belong to ``foreshock`` itself; written after the command, as one
    naturally does, they were refused (``foreshock run: error: unrecognized arguments: --config
    foreshock.toml``), and before a command's own positional argument their value was taken for it. No
    command has an option of either name; nothing after ``--`` is moved."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w == "--":
            rest.extend(words[i:])
            break
        if w in _GLOBAL_OPTIONS and i + 1 < len(words):
            front += [w, words[i + 1]]
            i += 2
            continue
        if w.startswith(tuple(f"{o}=" for o in _GLOBAL_OPTIONS)):
            front.append(w)
        else:
            rest.append(w)
        i += 1
    return front + rest


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    words = _hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    args, extra = parser.parse_known_args(words)
    if extra:
        # argparse would report them with the top-level usage; the subcommand's usage says what it takes
        first = words.index(args.command) if args.command in words else len(words)
        culprit = parser if any(w in extra for w in words[:first]) else _chosen_parser(parser, args)
        culprit.error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    settings: Settings | None = None
    try:
        if getattr(args, "needs_settings", True):
            overrides = {"log_level": args.log_level} if args.log_level else {}
            settings = load_settings(args.config, **overrides)
        level = (args.log_level or (settings.log_level if settings else "WARNING"))
        from foreshock.logfmt import log_handler

        logging.basicConfig(level=level, handlers=[log_handler(settings.log_format if settings else "text")])
        _quiet_http_clients(level)
        code = int(args.func(args, settings) or 0)
        sys.stdout.flush()  # here, where a reader that went away is caught, not at the interpreter's exit
        return code
    except BrokenPipeError:
        # the reader of our output stopped early (``foreshock devices export | head``): not an error of
        # ours; the rest goes nowhere, and the status is a pipe's (128 + SIGPIPE), as ``cat`` gives
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except SettingsError as exc:
        print(f"foreshock: {exc}", file=sys.stderr)
        return 2
    except (CliError, DatabaseVersionError) as exc:
        print(f"foreshock: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # a file or directory given on the command line that cannot be read or written
        logging.getLogger(__name__).debug("OS error", exc_info=True)
        print(f"foreshock: error: {describe_os_error(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:
        if not _is_database_unreachable(exc):
            raise
        logging.getLogger(__name__).debug("database error", exc_info=True)
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        if "timeout expired" in reason and settings is not None:
            reason += _timeout_hint(settings.database_url)
        elif _sqlstate(exc) == _INSUFFICIENT_PRIVILEGE:
            reason += (" (the role in the URL lacks a privilege: make it the owner of the database, `ALTER DATABASE "
                       "… OWNER TO …` as its owner or a superuser, or grant it CREATE and USAGE on the schema; "
                       "docs/deployment.md, step 2)")
        print(f"foreshock: error: cannot use the database {shown_url(_database_url(settings))}: {reason} "
              f"({_database_setting(settings)})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("foreshock: interrupted", file=sys.stderr)
        return 130


def describe_os_error(exc: OSError) -> str:
    """``cannot use FILE: No such file or directory``, not ``[Errno 2] No such file or directory: 'FILE'``."""
    if exc.filename is not None and exc.strerror:
        return f"cannot use {exc.filename}: {exc.strerror}"
    return str(exc)


def _is_database_unreachable(exc: BaseException) -> bool:
    """A database server that refuses or cannot be reached, or a SQLite file that cannot be opened
    (its folder cannot be created, or it is not a database: a bare ``DatabaseError``, not one of its
    subclasses for a statement's bad data such as ``IntegrityError``)."""
    try:
        from sqlalchemy.exc import DatabaseError, InterfaceError, OperationalError
    except ImportError:  # pragma: no cover - sqlalchemy is a dependency
        return False
    from foreshock.db import DatabaseFolderError

    return (isinstance(exc, (OperationalError, InterfaceError, DatabaseFolderError)) or type(exc) is DatabaseError
            or _sqlstate(exc) == _INSUFFICIENT_PRIVILEGE)


_INSUFFICIENT_PRIVILEGE = "42501"  # PostgreSQL's SQLSTATE for "permission denied for ..."


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error (psycopg 3: ``sqlstate``; psycopg2: ``pgcode``), else None."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def _timeout_hint(url: str) -> str:
    """What a connect timeout means: something took the connection and did not answer as PostgreSQL."""
    from sqlalchemy.engine import make_url

    from foreshock.db import connect_timeout_s

    try:
        where = f"{make_url(url).host}:{make_url(url).port or 5432}"
    except Exception:  # noqa: BLE001 - only for the message
        where = "that address"
    return (f" (no answer within {connect_timeout_s(url):g} s: is PostgreSQL listening at {where}, or another "
            "server? ?connect_timeout=SECONDS in the URL waits longer)")


def _database_url(settings: Settings | None) -> str:
    return settings.database_url if settings is not None else "the database"


def _database_setting(settings: Settings | None) -> str:
    if settings is not None and settings.database.url is None:  # the default: a file under data_dir
        return "settings data_dir / FORESHOCK_DATA_DIR, or database.url / FORESHOCK_DATABASE__URL"
    return "settings database.url / FORESHOCK_DATABASE__URL"




def _chosen_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The innermost (sub)parser the command line selected, e.g. the one of ``tickets move``."""
    while True:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        name = getattr(args, subs[0].dest, None) if subs else None
        child = subs[0].choices.get(name) if name else None
        if child is None:
            return parser
        parser = child


if __name__ == "__main__":  # pragma: no cover
    # `python -m foreshock.cli`: this file runs as __main__, a second copy of the module, whose
    # CliError is not the one the commands raise (they import foreshock.cli); run the real one
    from foreshock.cli import main as _main

    sys.exit(_main())
