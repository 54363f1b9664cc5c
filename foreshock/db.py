"""The relational store: registry, alerts, tickets, dead letters, tokens.

SQLite by default, PostgreSQL in production (``postgresql+psycopg://...``). Every part of the
product that owns tables declares them on :class:`Base` in its own ``models.py`` and ships its
own Alembic migrations in ``<package>/migrations/`` as a named branch (``branch_labels``);
:func:`migrate` upgrades every branch to its head. ``foreshock db upgrade`` does the same
from the command line.
"""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

__all__ = ["Base", "DatabaseFolderError", "DatabaseVersionError", "log_failure", "make_engine", "migrate", "session_scope", "upgrade", "utcnow",
           "MIGRATION_PACKAGES", "shown_url", "url_problem"]

log = logging.getLogger(__name__)

# Packages that own tables. Each has <package>/models.py and its Alembic branch in <package>/migrations/
# (foreshock's own branch "core" lives in foreshock/migrations/versions/). Missing folders are skipped.
MIGRATION_PACKAGES = ("foreshock", "devices", "ingest", "alerts", "api")

_ROOT = Path(__file__).resolve().parent.parent

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def dispose_all() -> None:
    """Close the pooled connections of every engine made here (tests call it after each test)."""
    for engine in list(_ENGINES):
        engine.dispose()


class DatabaseFolderError(Exception):
    """The folder of a SQLite database cannot be created (the command line names the setting).

    Not an ``OSError``: commands that turn a bad file *argument* (an OSError) into a usage error
    would then blame the command line instead of the setting."""


class DatabaseVersionError(Exception):
    """The database was upgraded by a newer Foreshock: it is at revisions this version does not know.
    Nothing is changed; the command line prints the message (exit code 1)."""

    exit_code = 1

    def __init__(self, url: str, revisions: list[str]) -> None:
        from foreshock import __version__

        self.revisions = revisions
        names = ", ".join(repr(r) for r in revisions)
        super().__init__(
            f"the database {url} was upgraded by a newer version of Foreshock than this one ({__version__}): it is "
            f"at revision {names}, which this version does not know. Nothing was changed. Install that newer "
            f"version again (docs/deployment.md, \"Upgrades\"), or restore the backup taken before that upgrade; "
            f"if this is not Foreshock's database, check the setting database.url (FORESHOCK_DATABASE__URL)")


def shown_url(url: str | URL) -> str:
    """``url`` as a message may show it: the password (in the user part or a ``password=`` query
    parameter) as ``***``, whatever its characters.

    SQLAlchemy's own ``render_as_string(hide_password=True)`` hid only what it had read as the password:
    one with an unencoded '@' (``u:p@ss@host``) was read as ``p``, and the rest (``ss``) was shown as part
    of the host. Such a URL (see :func:`url_problem`) is shown with everything between the scheme's
    ``://`` and its last '@' but the user name hidden.

    >>> shown_url("postgresql+psycopg://fs:p@ss@db.example.com:5432/fs")
    'postgresql+psycopg://fs:***@db.example.com:5432/fs'
    >>> shown_url("postgresql+psycopg://fs:s3cret@db/fs?password=s3cret&sslmode=require")
    'postgresql+psycopg://fs:***@db/fs?password=***&sslmode=require'
    """
    if isinstance(url, URL):
        parsed: URL | None = url
    else:
        if url.startswith("sqlite") and "://" in url:  # a file: no credentials (rendered, a '@' in its path would be %40)
            return url
        if url_problem(url) is not None:
            return _masked_by_hand(url)
        try:
            parsed = make_url(url)
        except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads: masked by hand, only for the message
            return _masked_by_hand(url)
    if parsed.drivername.startswith("sqlite"):
        return parsed.render_as_string(hide_password=True)
    if "password" in parsed.query:
        parsed = parsed.update_query_dict({"password": "***"})
    return parsed.render_as_string(hide_password=True).replace("password=%2A%2A%2A", "password=***")


def _masked_by_hand(url: str) -> str:
    """``url`` with what lies between ``://`` (or its start) and its last '@' hidden but the user name: any
    password in the user part, read however it is written, is before the '@' that ends it. A ``password=``
    query parameter is hidden with all that follows it (an '@' in it would be the last one)."""
    query_password = _QUERY_PASSWORD.search(url)
    tail = ""
    if query_password is not None:
        url, tail = url[:query_password.start()], query_password.group(0) + "***"
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    at = rest.rfind("@")
    if at < 0:
        return url + tail
    user, colon, _ = rest[:at].partition(":")
    return f"{scheme}{sep}{user}{':***' if colon else ''}@{rest[at + 1:]}{tail}"


_QUERY_PASSWORD = re.compile(r"[?&]password=")


def url_problem(url: str) -> str | None:
    """Why a server database URL cannot be what was meant, or None: an '@' after the one that ends the
    user name and password. That is a password (or user name) with an unencoded '@', which SQLAlchemy
    reads as a shorter password and a host made of the rest (``failed to resolve host 'ss@db…'``, the
    password's end in the message). The message shows the URL with the password hidden.

    >>> print(url_problem("postgresql+psycopg://fs:p@ss@db/fs"))
    the URL postgresql+psycopg://fs:***@db/fs has an '@' after the one that ends the user name and password: an '@' in the password (or the user name) must be percent-encoded, as %40 (p@ss as p%40ss); encode ':', '/', '?', '#' and '%' in it too (%3A, %2F, %3F, %23, %25)
    >>> url_problem("postgresql+psycopg://fs:p%40ss@db/fs") is None
    True
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.startswith("sqlite"):
        return None
    userinfo = _USERINFO.match(rest)  # what SQLAlchemy reads as user name and password (see make_url)
    after = rest[userinfo.end():] if userinfo else rest
    if "@" not in after:
        return None
    return (f"the URL {_masked_by_hand(url)} has an '@' after the one that ends the user name and password: an '@' "
            "in the password (or the user name) must be percent-encoded, as %40 (p@ss as p%40ss); encode ':', '/', "
            "'?', '#' and '%' in it too (%3A, %2F, %3F, %23, %25)")


# the user part of SQLAlchemy's URL pattern (sqlalchemy.engine.url._parse_url): user[:password]@
_USERINFO = re.compile(r"(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@")


def make_engine(url: str, **kwargs) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout for concurrent writers. JSON
    columns are read with each lone UTF-16 surrogate as U+FFFD (:func:`foreshock.jsontext.read_stored`)."""
    from foreshock.jsontext import read_stored

    kwargs.setdefault("json_deserializer", read_stored)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseFolderError(f"cannot create the folder {Path(path).parent} of the SQLite "
                                          f"database: {exc.strerror or exc}") from exc
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        _ENGINES.add(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if url.startswith("postgresql") and "connect_timeout" not in make_url(url).query:
        kwargs["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT_S, **kwargs.get("connect_args", {})}
    engine = create_engine(url, **kwargs)
    _ENGINES.add(engine)
    return engine


# Seconds a new PostgreSQL connection may take. psycopg's own default is 130 s: a server that accepted the
# connection and never answered (database.url given InfluxDB's port, a stuck server) held every command and
# `foreshock run` for over two minutes without a word. The URL's own ``?connect_timeout=N`` wins.
PG_CONNECT_TIMEOUT_S = 10


def connect_timeout_s(url: str) -> float:
    """The connect timeout a PostgreSQL ``url`` gets: its ``connect_timeout`` or :data:`PG_CONNECT_TIMEOUT_S`."""
    given = make_url(url).query.get("connect_timeout")
    try:
        return float(given if isinstance(given, str) else given[0]) if given else PG_CONNECT_TIMEOUT_S
    except ValueError:
        return PG_CONNECT_TIMEOUT_S


def _alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations").replace("%", "%%"))
    locations = [str(Path(__file__).parent / "migrations" / "versions")] + [
        str(_ROOT / pkg / "migrations")
        for pkg in MIGRATION_PACKAGES
        if pkg != "foreshock" and (_ROOT / pkg / "migrations").is_dir()
    ]
    cfg.set_main_option("version_locations", " ".join(locations).replace("%", "%%"))
    cfg.set_main_option("path_separator", "space")
    # alembic's Config is a ConfigParser: '%' starts an interpolation, and a percent-encoded password (p%23ss) or a
    # folder named "50%" made every command fail with "invalid interpolation syntax in '<the URL, password and all>'"
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def import_models() -> None:
    """Import every package's models so that ``Base.metadata`` knows all tables."""
    import importlib

    for pkg in MIGRATION_PACKAGES:
        try:
            importlib.import_module(f"{pkg}.models")
        except ModuleNotFoundError as exc:
            if exc.name != f"{pkg}.models":
                raise


# alembic logs its plugin set-up and migration context at INFO on every run: noise before every
# command's output. Only the revisions actually applied are reported (by ``migrate``).
_ALEMBIC_CHATTER = ("alembic.runtime.plugins", "alembic.runtime.migration")


def migrate(engine: Engine) -> None:
    """Upgrade every package's migration branch to its head (idempotent, safe to call at start)."""
    upgrade(engine)


def upgrade(engine: Engine) -> list[str]:
    """:func:`migrate`, returning the heads it moved to (empty when the database was up to date).

    All or nothing: every pending migration of every branch runs in one transaction, so a migration that
    refuses (raises) leaves the database as it was, on SQLite too (:func:`_begin_sqlite`)."""
    chatter = [logging.getLogger(name) for name in _ALEMBIC_CHATTER]
    levels = [lg.level for lg in chatter]
    if not log.isEnabledFor(logging.DEBUG):
        for lg in chatter:
            lg.setLevel(logging.WARNING)
    try:
        from alembic import command  # its plugins log their set-up when first imported
        from alembic.runtime.migration import MigrationContext

        cfg = _alembic_config(engine)
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                _begin_sqlite(conn)
            elif engine.dialect.name == "postgresql":
                # one upgrade at a time: two processes starting together after an upgrade of Foreshock both read
                # the old revisions and created the same tables, and one failed (UniqueViolation on pg_type). The
                # lock ends with the transaction; the second then finds the revisions the first applied.
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_UPGRADE_LOCK})")
            before = set(MigrationContext.configure(conn).get_current_heads())
            _refuse_newer(engine, cfg, before)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "heads")
            after = set(MigrationContext.configure(conn).get_current_heads())
    finally:
        for lg, level in zip(chatter, levels, strict=True):
            lg.setLevel(level)
    applied = sorted(after - before)
    if applied:
        log.info("database %s upgraded to %s", shown_url(engine.url), ", ".join(applied))
    log.debug("database %s migrated", shown_url(engine.url))
    return applied


_PG_UPGRADE_LOCK = 0x466F7265  # the advisory lock key of upgrade(): "Fore" in ASCII, any fixed number would do


def _refuse_newer(engine: Engine, cfg, current: set[str]) -> None:
    """Raise :class:`DatabaseVersionError` when the database is at a revision this version does not ship:
    alembic's own "Can't locate revision identified by ..." came as a traceback from every command."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(cfg)
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = sorted(current - known)
    if unknown:
        raise DatabaseVersionError(shown_url(engine.url), unknown)


def _begin_sqlite(conn) -> None:
    """Begin the upgrade's transaction on SQLite ourselves, so that every migration of the run, DDL included,
    commits or rolls back as one.

    Python's sqlite3 (legacy transaction control, the default before 3.16) emits ``BEGIN`` before DML only:
    the DDL of the first migration of a run ran outside any transaction and was committed at once. An upgrade
    a later migration refused (``d1a2_serial_case`` with units registered twice) rolled back the version rows
    but not that DDL (``api_tokens`` created, unrecorded), and the next upgrade failed with "table api_tokens
    already exists". SQLAlchemy's documented recipe ("Using SQLAlchemy to emit BEGIN in lieu of SQLite's
    transaction control": ``isolation_level = None`` on connect plus a ``begin`` event emitting ``BEGIN``) does
    the same for every connection of the engine; this engine is shared by ingest, the API and the detection
    stage, and SQLAlchemy's own note says that mode is more prone to "database is locked", so it is applied
    to the upgrade's connection only. ``IMMEDIATE`` takes the write lock at once (waiting up to the busy
    timeout): two processes upgrading at the same start take turns instead of one failing to promote a read
    lock. sqlite3 sees the open transaction and emits the ``COMMIT`` or ``ROLLBACK`` SQLAlchemy asks for."""
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# what an unreachable relational database raises (a cut link, a restart, a full connection pool)
DB_UNAVAILABLE: tuple[type[Exception], ...] = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)


def db_reason(exc: BaseException) -> str:
    """The first line of the driver's own message (SQLAlchemy adds ``[SQL: ...]`` and a link below it).

    >>> db_reason(sa_exc.OperationalError("SELECT 1", {}, Exception("connection refused\\nIs it running?")))
    'connection refused'
    """
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def log_failure(logger: logging.Logger, what: str) -> None:
    """Log the exception being handled: one line when the database is unreachable (an outage
    logged a full traceback for every unit of work, every few seconds), the traceback for anything
    else. Call it from an ``except`` block."""
    import sys

    from sqlalchemy.exc import DBAPIError

    exc = sys.exc_info()[1]
    if isinstance(exc, DB_UNAVAILABLE) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        logger.error("%s: database unavailable (%s: %s); trying again later", what, type(exc).__name__,
                     db_reason(exc))
    else:
        logger.exception(what)
