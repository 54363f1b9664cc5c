"""``foreshock run``: ingest, detection, alerts and the API in one process.

:class:`Pipeline` builds every part from the settings and wires them together (see
``docs/architecture.md``). It is what ``foreshock run`` and ``foreshock demo`` start, and what the
end-to-end tests drive.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import exc as sa_exc

from foreshock.db import (
    DB_UNAVAILABLE,
    DatabaseFolderError,
    DatabaseVersionError,
    db_reason,
    log_failure,
    make_engine,
    migrate,
    session_factory,
    shown_url,
)
from foreshock.detection import DetectionStage
from foreshock.sdnotify import SystemdNotifier
from foreshock.settings import Settings
from foreshock.tsdb import open_store

__all__ = ["Pipeline", "StartupError", "SystemdNotifier", "register"]

log = logging.getLogger(__name__)
HEALTH_EVENT_IDS = 200  # units named in one `health` event; a larger save says only how many
EXIT_BUSY_AT_STOP = 3  # `foreshock run` stopped, but a worker was still busy at the bound (docs/deployment.md)
# Under systemd (NOTIFY_SOCKET set): the start refused for good (a setting, a credential, a database that does not
# exist). EX_CONFIG of sysexits.h; the unit's RestartPreventExitStatus= names it, so systemd does not retry it.
EXIT_CONFIG = 78


class StartupError(RuntimeError):
    """A part of the service could not start (the message names it and what to change)."""


class StartAbandoned(Exception):
    """A stop (SIGTERM, SIGHUP, Ctrl-C) came while the start waited for the database."""


_REFUSED_FOR_GOOD = ("authentication failed", "no password supplied", "no pg_hba.conf entry", "does not exist",
                     "permission denied", "ssl was required", "does not support ssl", "root certificate file")


def refused_for_good(exc: BaseException) -> bool:
    """Whether a database error at start is one that waiting will not cure (see :data:`_REFUSED_FOR_GOOD`)."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    return any(marker in text for marker in _REFUSED_FOR_GOOD)


def _short_reason(exc: BaseException) -> str:
    """libpq's reason without its preamble: 'Connection refused', not 'connection failed: connection to
    server at "127.0.0.1", port 5432 failed: Connection refused'."""
    reason = db_reason(exc)
    if reason.startswith("connection failed: ") and " failed: " in reason[len("connection failed: "):]:
        reason = reason.rsplit(" failed: ", 1)[1]
    return reason.strip() or type(exc).__name__


def _env_name(setting: str) -> str:
    return "FORESHOCK_" + setting.replace(".", "__").upper()


def _usable_dir(path: Path, setting: str) -> None:
    """Create ``path`` (a folder the service writes into) or raise :class:`StartupError` naming ``setting``."""
    try:
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(20, "it is a file, not a folder")
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):  # the real reason: a read-only file system was "Permission denied"
            pass
    except OSError as exc:
        raise StartupError(
            f"setting {setting} ({_env_name(setting)}): cannot use the folder {path}: {exc.strerror or exc}"
        ) from None


def _lock_folder(path: Path, setting: str) -> Any:
    """Hold ``<path>/foreshock.lock`` (an exclusive ``flock``, released when the file is closed or the
    process ends, even by SIGKILL) or raise :class:`StartupError` naming ``setting`` and the holder.

    A second ``foreshock run`` on the same data folder (a unit started twice, a shell left running)
    appended to the same spool segments and alert queue as the first, and the two took the broker
    session from each other every second."""
    import fcntl

    fh = open(path / "foreshock.lock", "a+", encoding="utf-8")  # noqa: SIM115 - held until stop()
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.seek(0)
        holder = fh.read().strip() or "unknown"
        fh.close()
        raise StartupError(
            f"setting {setting} ({_env_name(setting)}): the folder {path} is in use by another foreshock run "
            f"(pid {holder}); two services must not share it. Stop the other one, or give this one its own "
            f"{setting} and mqtt.client_id") from None
    fh.seek(0)
    previous = fh.read().strip()  # a pid: that run did not get to stop() (killed, crashed, power lost)
    if previous and setting == "data_dir":
        log.warning("the last foreshock run on %s (pid %s) did not stop cleanly: the detectors resume from the "
                    "state saved at its last tick, and messages it had acknowledged but not yet assessed are stored "
                    "but not assessed; the broker redelivers what it had not acknowledged (docs/reliability.md)",
                    path, previous)
    fh.truncate(0)
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh


def _unlock_folder(fh: Any) -> None:
    """Release a folder held by :func:`_lock_folder`, leaving the file empty: this run stopped cleanly."""
    if fh.closed:
        return
    fh.truncate(0)
    fh.close()


@dataclass
class PipelineOptions:
    api: bool = True
    tick_interval_s: float = 30.0
    shutdown_timeout_s: float = 20.0
    # After start-up, move every object allocated so far (modules, SQLAlchemy, numpy: about 130,000
    # tracked objects without the API) out of the garbage collector's reach (``gc.freeze``), so that a
    # full collection no longer walks them. Off: in bench/soak.py (``--no-gc-freeze`` against the
    # default) the full-collection pauses were the same within the run-to-run spread (median of the
    # longest per window 50 ms without, 49-54 ms with, at similar load), and a process that builds many
    # pipelines (the tests) would keep the cyclic garbage of each one.
    freeze_gc: bool = False
    # A PostgreSQL server that does not answer at start (refused, timed out, starting up): wait for it, trying
    # again after 1, 2, 4 ... up to ``wait_max_s`` seconds, instead of refusing the start. What waiting will
    # not cure (the credentials, a database that does not exist) is still refused at once. `foreshock run`
    # waits under systemd (NOTIFY_SOCKET set), saying so through ``notifier``; by hand it does not.
    wait_for_database: bool = False
    wait_max_s: float = 30.0
    notifier: SystemdNotifier | None = None
    stop_event: threading.Event | None = None  # set by a signal that came before the pipeline existed


class _ThroughIngest:
    """The telemetry store as the detection stage writes to it: through ingest's writer.

    The detection stage writes its health points from ingest's ``on_batch`` hook. Written to the
    store directly they were lost while the store was down (each batch also waited out the store's
    retries); through the writer they are spooled with the telemetry and replayed when it returns.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    def write(self, points: list[Any]) -> None:
        self._pipeline.ingest.write_derived(points)


class _DetectionGate:
    """The detection stage as ingest's hook, closed without ever running beside a batch.

    ``Pipeline.stop()`` closed the stage (its last state save) right after ingest's stop, which at its
    bound leaves a worker still busy with a batch (slow detectors, a slow store): the close then waited
    for that batch for as long as it took (the stop's bound did not hold), or ran beside the rest of
    it, and the process could exit with the worker inside numpy. Here :meth:`close` first refuses new
    batches, then waits a bounded time for the one in progress; only then is the stage closed. A
    batch still running at the bound is named, and the stage is left as it is (its state as saved at
    the last tick).
    """

    def __init__(self, stage: DetectionStage) -> None:
        self._stage = stage
        self._cond = threading.Condition()
        self._closing = False
        self._busy: dict[threading.Thread, float] = {}  # thread -> when it began its batch (monotonic)
        self.refused = 0  # messages handed in while closing: stored and acknowledged, not assessed

    @property
    def closing(self) -> bool:
        return self._closing

    def on_batch(self, messages: list[Any]) -> None:
        me = threading.current_thread()
        with self._cond:
            if self._closing:
                self.refused += len(messages)
                log.warning("stopping: %d messages stored but not assessed (the detection stage is closed)",
                            len(messages))
                return
            self._busy[me] = time.monotonic()
        try:
            self._stage.on_batch(messages)
        finally:
            with self._cond:
                del self._busy[me]
                self._cond.notify_all()

    def close(self, timeout_s: float) -> list[str]:
        """Refuse new batches, wait up to ``timeout_s`` for those in progress, then close the stage.
        Returns the batches still in progress at the bound (thread and since when, for the log); the
        stage is then not closed, since its close would wait for them."""
        with self._cond:
            self._closing = True
            self._cond.wait_for(lambda: not self._busy, max(0.0, timeout_s))
            now = time.monotonic()
            busy = [f"thread {t.name} since {now - since:.1f} s" for t, since in self._busy.items()]
        if busy:
            log.error("stopping: the detection stage is still busy with a batch (%s) at the stop's bound: detector "
                      "state not saved at shutdown (the next start resumes from the state saved at the last tick); "
                      "the batch's messages are stored and acknowledged", "; ".join(busy))
            return busy
        self._stage.close()
        return []


class _RegistryMemory:
    """The registry as ingest asks it (is the unit registered? its machine data?), answered from the
    last answers while the relational database is unreachable.

    Ingest asks for every batch. With PostgreSQL cut off, the registry's cached view expired after
    ``devices.cache_ttl_s`` and every batch then failed its device check and was retried: no telemetry
    was stored until the database returned, though the store was up. Now the units seen registered
    (and the machine data looked up) before the outage go on being ingested; a unit not asked about
    before it still raises, so its batch waits unacknowledged, as before, rather than being refused.
    """

    def __init__(self, registry: Any) -> None:
        self._registry = registry
        self._known: dict[str, bool] = {}  # units last answered registered (bounded by the fleet)
        self._machines: dict[str, Any] = {}
        self._from_memory = False  # answering from memory: said once when it starts and once when it ends

    def is_known(self, device_id: str) -> bool:
        known = self._ask(self._registry.is_known, device_id, self._known)
        if not known:  # only "registered" is remembered: an unknown unit's batch waits rather than being refused
            self._known.pop(device_id, None)
        return known

    def machine_info(self, device_id: str) -> Any:
        return self._ask(self._registry.machine_info, device_id, self._machines)

    def _ask(self, question: Any, device_id: str, memory: dict[str, Any]) -> Any:
        """``question(device_id)`` of the registry, remembered; the last answer while the database is
        unreachable, or the error when there is none."""
        try:
            answer = question(device_id)
        except DB_UNAVAILABLE as exc:
            if device_id not in memory:
                raise
            self._remembering(exc)
            return memory[device_id]
        self._answered()
        memory[device_id] = answer
        return answer

    def _remembering(self, exc: Exception) -> None:
        if not self._from_memory:
            self._from_memory = True
            reason = db_reason(exc)[:300]
            log.warning("database unavailable (%s): ingest goes on for the %d units seen registered before, from "
                        "memory; messages of other units wait unacknowledged until it returns", reason,
                        len(self._known))

    def _answered(self) -> None:
        if self._from_memory:
            self._from_memory = False
            log.info("database back: ingest asks the registry again")


class Pipeline:
    """Every part of Foreshock, built from one :class:`Settings` and started together."""

    def __init__(self, settings: Settings, options: PipelineOptions | None = None) -> None:
        self.settings = settings
        self.options = options or PipelineOptions()
        self._stop = self.options.stop_event or threading.Event()
        self.notifier = self.options.notifier or SystemdNotifier(None)
        self._threads: list[threading.Thread] = []
        self._api_server: Any = None
        self.api_url: str | None = None
        self._next_prune = 0.0  # expired dead letters: at the first tick, then hourly
        self.still_busy: list[str] = []  # after stop(): threads still at work at its bound (see stop())
        self._build()

    # -- construction -------------------------------------------------------------------------

    def _build(self) -> None:
        s = self.settings
        # A folder or file that cannot be used is refused here naming its setting (it was a bare
        # "[Errno 2] No such file or directory: '/x'", or a traceback for the embedded store).
        _usable_dir(s.data_dir, "data_dir")
        _usable_dir(s.spool_dir, "ingest.spool_dir" if s.ingest.spool_dir else "data_dir")
        self._locks = [_lock_folder(s.data_dir, "data_dir")]
        try:
            if not s.spool_dir.resolve().is_relative_to(s.data_dir.resolve()):
                self._locks.append(_lock_folder(s.spool_dir, "ingest.spool_dir"))
            self._build_parts()
        except BaseException:
            # a start refused here (the database not up yet, the store's file) took no message: its pid
            # left in the lock made the next start report a run that "did not stop cleanly"
            for lock in self._locks:
                _unlock_folder(lock)
            raise

    def _build_parts(self) -> None:
        s = self.settings
        self.engine = make_engine(s.database_url)
        self._open_database()
        self.sessions = session_factory(self.engine)
        self.store = self._open_store()

        from devices.registry import Registry

        self.registry = Registry(self.sessions, **s.devices.model_dump())
        ingest_registry = _RegistryMemory(self.registry)  # ingest goes on while the database is down

        from api.events import EventBus
        from api.snapshots import LatestSnapshots

        self.events = EventBus()
        self.latest_snapshots = LatestSnapshots(s.data_dir / "snapshots")

        from alerts.service import AlertService

        self.alerts = AlertService(
            self.sessions, registry=self.registry, config=s.alerts, **self._alert_kwargs()
        )

        from ingest.deadletter import DeadLetterStore

        self.dead_letters = DeadLetterStore.from_settings(self.sessions, s)
        self.detection = DetectionStage(
            self.sessions,
            registry=self.registry,
            alerts=self,
            store=_ThroughIngest(self),  # health points: to the store, or spooled while it is down
            publish_health=self._publish_health,
            on_snapshot=self.latest_snapshots.put,
            on_saved=self._health_saved,
            pending_path=s.data_dir / "pending-alerts.jsonl",
            flush_on_batch=False,  # the tick thread saves detector state, off the ingest path
        )
        self._detection_gate = _DetectionGate(self.detection)  # closed by stop() only once no batch runs
        from ingest.service import IngestService

        self.ingest = IngestService(
            s,
            self.store,
            self.dead_letters,
            device_check=ingest_registry.is_known,
            auto_register=self._auto_register if s.ingest.auto_register else False,
            on_batch=self._detection_gate.on_batch,
            machine_info=ingest_registry.machine_info,
        )

    def _open_database(self) -> None:
        """Bring the database to the current schema (the first connection). With ``wait_for_database``, a
        PostgreSQL server that does not answer is tried again with backoff, each attempt logged and told to
        systemd (``STATUS=``); a stop meanwhile raises :class:`StartAbandoned`."""
        attempt, delay = 0, 1.0
        while True:
            attempt += 1
            try:
                migrate(self.engine)
            except DB_UNAVAILABLE as exc:
                if (not self.options.wait_for_database or self.engine.dialect.name != "postgresql"
                        or refused_for_good(exc)):
                    raise
                from foreshock.db import connect_timeout_s

                status = (f"waiting for the database at {self._database_address()}: {_short_reason(exc)} "
                          f"(attempt {attempt})")
                log.warning("%s; trying again in %.0f s (database.url / FORESHOCK_DATABASE__URL)", status, delay)
                self.notifier.status(status, extend_start_s=delay + connect_timeout_s(self.settings.database_url) + 30)
                if self._stop.wait(delay):
                    raise StartAbandoned("stopped while waiting for the database") from None
                delay = min(delay * 2, self.options.wait_max_s)
            else:
                if attempt > 1:
                    log.info("the database at %s answered at attempt %d", self._database_address(), attempt)
                return

    def _database_address(self) -> str:
        from sqlalchemy.engine import make_url

        url = make_url(self.settings.database_url)
        return f"{url.host}:{url.port or 5432}" if url.host else f"the local socket ({url.database})"

    def _open_store(self) -> Any:
        from foreshock.tsdb import StoreUnavailable

        try:
            return open_store(self.settings)
        except StoreUnavailable as exc:  # only the embedded store opens anything here: a file
            setting = "telemetry.path" if self.settings.telemetry.path else "data_dir"
            raise StartupError(f"setting {setting} ({_env_name(setting)}): {exc}") from None
        except ValueError as exc:  # a setting the backend needs, left empty: its message names it
            text = str(exc)
            setting = text.split()[0] if text.startswith("telemetry.") else "telemetry.backend"
            raise StartupError(f"setting {setting} ({_env_name(setting)}): {text}") from None

    def _check_startup(self) -> None:
        """Refuse to start on settings that cannot work, naming them: TLS files that cannot be read,
        and a telemetry store that refuses the credentials, database, bucket or retention policy (every
        message was acknowledged and dead-lettered as ``store_rejected``, snapshots cut to 4 KiB). A store
        that does not answer is not an error: ingest spools until it does."""
        mqtt = self.settings.mqtt
        if mqtt.tls:
            for name in ("ca_file", "cert_file", "key_file"):
                path = getattr(mqtt, name)
                if path is None:
                    continue
                try:
                    with open(path, "rb"):
                        pass
                except OSError as exc:
                    raise StartupError(f"setting mqtt.{name} ({_env_name('mqtt.' + name)}): cannot read {path}: "
                                       f"{exc.strerror or exc}") from None
        check = getattr(self.store, "check_access", None)
        if check is None:
            return
        from foreshock.tsdb import StoreAccessDenied, StoreUnavailable

        t = self.settings.telemetry
        try:
            check()
        except StoreAccessDenied as exc:
            if t.backend == "influx2":
                names = "telemetry.token, telemetry.org, telemetry.bucket"
            else:
                names = ("telemetry.token" if t.token else "telemetry.username, telemetry.password") + \
                    ", telemetry.database, telemetry.retention_policy"
            if "telemetry." in str(exc):  # the store's check named the setting at fault
                raise StartupError(f"the telemetry store at {t.url} refused access: {exc}") from None
            raise StartupError(f"the telemetry store at {t.url} refused access: {exc} (check the settings {names}; "
                               f"e.g. {_env_name(names.split(', ')[0])})") from None
        except StoreUnavailable:
            pass  # ingest logs it at start and spools until the store answers

    def _alert_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        try:
            from alerts.notify import Notifier

            kwargs["notifier"] = Notifier.from_settings(self.settings, self.sessions)
        except (ImportError, AttributeError):
            pass
        return kwargs

    def _auto_register(self, device_id: str) -> bool:
        """Whether ``device_id`` is now a unit in service: the registry refuses a decommissioned unit and a
        serial registered in another letter case, whose messages are then dead-lettered (``unknown_device``)."""
        return self.registry.auto_register(device_id)

    # The detection stage hands assessments here; we forward to the alert service and the event bus.
    def handle_assessment(self, device_id: str, assessment: Any, *, source_key: str) -> list[Any]:
        changes = self.alerts.handle_assessment(device_id, assessment, source_key=source_key) or []
        for change in changes:
            payload = change.to_dict()
            kind = "ticket" if "ticket" in str(payload.get("kind", "")) else "alert"
            self.events.publish(kind, payload)
        return changes

    def _health_saved(self, saved: list[tuple[str, str]]) -> None:
        """One ``health`` event per save (every tick that assessed something): the API's health
        has changed for these units, so live pages re-read it. A state change with no alert (a time
        to failure counting down, watch back to healthy) reached the dashboard only on reload."""
        ids = [device_id for device_id, _ in saved]
        self.events.publish("health", {
            "units": len(ids),
            "device_ids": ids[:HEALTH_EVENT_IDS],  # all of them up to this many; else refresh everything
            "states": dict(saved[:HEALTH_EVENT_IDS]),
        })

    def threshold_factor(self, device_id: str) -> float:
        return self.alerts.threshold_factor(device_id)

    def _publish_health(self, device_id: str, payload: bytes) -> None:
        from devices.protocol import topic

        source = self.ingest.source
        if source is None:
            return
        source.publish(topic(device_id, "health", self.settings.mqtt.topic_root), payload, retain=True)

    def app_context(self):
        from api.context import AppContext

        return AppContext(
            settings=self.settings,
            session_factory=self.sessions,
            store=self.store,
            registry=self.registry,
            alerts=self.alerts,
            metrics=getattr(self.ingest, "metrics", None),
            deadletters=self.dead_letters,
            detection=self.detection,
            probes=self.probes(),
            events=self.events,
            latest_snapshots=self.latest_snapshots,
        )

    def probes(self) -> dict[str, Any]:
        from sqlalchemy import text

        def database() -> None:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        def broker() -> None:
            if not self.ingest.connected:
                raise RuntimeError(f"not connected to the MQTT broker at {self.settings.mqtt.url}")

        def alert_queue() -> None:
            if self.detection.alert_backlog:
                raise RuntimeError(f"{self.detection.alert_backlog} alert updates queued; {self.detection.alert_error}")

        def telemetry_store() -> None:
            self.store.ping()
            writer = getattr(self.ingest, "writer", None)  # spooling: a refusal of the credentials passes the ping
            report = writer.down_report() if writer is not None else None
            if report:
                raise RuntimeError(report)

        return {"database": database, "telemetry_store": telemetry_store, "broker": broker, "alert_queue": alert_queue}

    # -- running ----------------------------------------------------------------------------

    def start(self) -> Pipeline:
        if self.options.api:
            self._check_api_port()  # before ingest subscribes: a busy port must not leave half a service running
        self._check_startup()
        self.registry.defer_seen_writes = True  # the tick loop writes every unit's last-seen time at once
        self.ingest.start()
        t = threading.Thread(target=self._tick_loop, name="foreshock-tick", daemon=True)
        t.start()
        self._threads.append(t)
        if self.options.api:
            self._start_api()
        if self.options.freeze_gc:
            gc.collect()  # what is garbage now is not kept for ever
            gc.freeze()
            log.info("%d objects from start-up moved out of the garbage collector's reach", gc.get_freeze_count())
        return self

    def _check_api_port(self) -> None:
        """Raise :class:`StartupError` naming the address and the setting when the API cannot listen there."""
        import socket

        host, port = self.settings.api.host, self.settings.api.port
        if port == 0:
            return
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            family, _, _, _, addr = infos[0]
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
                s.bind(addr)
        except OSError as exc:
            import errno

            if exc.errno == errno.EADDRINUSE:
                hint = ("another process, perhaps a running foreshock, uses it; set api.port or FORESHOCK_API__PORT, "
                        "or run with --no-api")
            else:  # the host is no address of this machine, or no name (was blamed on another process)
                hint = ("setting api.host (FORESHOCK_API__HOST) must be an address of this machine such as 127.0.0.1 "
                        "or 0.0.0.0, or a name resolving to one; or run with --no-api")
            raise StartupError(f"the API cannot listen on {host}:{port}: {exc.strerror or exc} ({hint})") from None

    def _start_api(self) -> None:
        import uvicorn

        from api.app import create_app

        app = create_app(self.app_context())
        config = uvicorn.Config(
            app, host=self.settings.api.host, port=self.settings.api.port, log_level="warning", lifespan="on",
            log_config=None,  # uvicorn's messages go through our handler, in the configured log_format
        )
        server = uvicorn.Server(config)
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # we own the signals
        t = threading.Thread(target=server.run, name="foreshock-api", daemon=True)
        t.start()
        deadline = time.monotonic() + 15
        while not server.started and t.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not server.started:
            raise StartupError(f"the API did not start on {self.settings.api.host}:{self.settings.api.port} "
                               "(see the error above)")
        port = server.servers[0].sockets[0].getsockname()[1] if server.servers else self.settings.api.port
        self.api_url = f"http://{self.settings.api.host}:{port}"
        self._api_server = server
        self._threads.append(t)
        log.info("API and dashboard on %s", self.api_url)

    def _tick_loop(self) -> None:
        """Run :meth:`tick` every ``tick_interval_s`` and write the units' last-seen times, all in one
        transaction, every half ``devices.seen_write_interval_s``: the registry then never finds a unit's
        time due in :meth:`~devices.registry.Registry.mark_seen`, which would write it alone, inside
        detection (1,000 units seen at the same moment made a wave of 1,000 commits every 30 s)."""
        tick_every = self.options.tick_interval_s
        seen_every = self.settings.devices.seen_write_interval_s / 2
        next_tick = next_seen = time.monotonic()
        next_tick += tick_every
        next_seen += seen_every
        while not self._stop.wait(max(0.0, min(next_tick, next_seen) - time.monotonic())):
            now = time.monotonic()
            if now >= next_seen:
                next_seen = now + seen_every
                try:
                    self.registry.flush_seen()
                except Exception:  # noqa: BLE001 - the next round tries again
                    log_failure(log, "writing last-seen times failed")
            if now >= next_tick:
                next_tick = now + tick_every
                self.tick()

    def tick(self) -> None:
        """Clocks, deadman checks, state persistence and, hourly, expired dead letters (also called by tests)."""
        try:
            heard = getattr(self.ingest, "heard_until", None)  # messages still in ingest's hands are no silence
            self.alerts.tick(heard_until=heard() if heard is not None else None)
        except Exception:  # noqa: BLE001 - the next tick tries again
            log_failure(log, "alert clock tick failed")
        try:
            self.detection.flush()
        except Exception:  # noqa: BLE001
            log_failure(log, "saving detector state failed")
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + 3600.0
            try:
                self.dead_letters.prune()
            except Exception:  # noqa: BLE001 - the next hour tries again
                log_failure(log, "deleting expired dead letters failed")

    def stop(self, timeout_s: float | None = None) -> None:
        """Graceful shutdown: stop taking messages, flush what is buffered, save state (bounded).

        A worker still busy with a batch at the bound (a store or detectors slower than the bound) is
        not waited for: it is named in the log and in :attr:`still_busy`, and what it still uses (the
        detection stage, the telemetry store, the database engine) is not closed under it. The batch's
        messages are stored and, if the detectors had them, acknowledged; else the broker sends them
        again. The process should then end without waiting for that thread (``foreshock run`` exits
        with :data:`EXIT_BUSY_AT_STOP`)."""
        timeout_s = timeout_s or self.options.shutdown_timeout_s
        deadline = time.monotonic() + timeout_s
        self._stop.set()
        self.notifier.stopping("stopping: writing what is queued, saving detector state")
        # ingest's share of the bound: the rest of the stop (detector state, last-seen times, API) took 0.3-0.8 s
        # after a stop with a full queue; what ingest does not write in time the broker redelivers
        self.ingest.stop(max(1.0, timeout_s - 3.0))
        busy = self._detection_gate.close(deadline - 2.0 - time.monotonic())
        worker = getattr(self.ingest, "left_running", None)
        if worker is not None and not busy:  # busy in the store, not in the detectors
            busy = [f"thread {worker.name} (writing a batch)"]
        self.still_busy = busy
        try:  # raised out of stop() with the database down: nothing after it was closed
            self.registry.flush_seen()
        except DB_UNAVAILABLE as exc:
            log.error("last-seen times not written at shutdown (database unavailable: %s); the units' next messages "
                      "set them again", db_reason(exc)[:300])
        except Exception:  # noqa: BLE001 - the rest of the shutdown must still run
            log.exception("last-seen times not written at shutdown")
        if self._api_server is not None:
            self.events.close()  # end open event streams, or they hold the server's shutdown
            self._api_server.should_exit = True
        for t in self._threads:
            t.join(timeout=5)
        close = getattr(self.alerts, "close", None)
        if close:
            close()
        if busy:  # not closed under the busy thread; the process ends and the OS closes them
            log.warning("stopped with a worker still busy (%s): the telemetry store and the database are left open "
                        "to it", "; ".join(busy))
        else:
            self.store.close()
            self.engine.dispose()
        for lock in self._locks:
            _unlock_folder(lock)
        log.info("stopped")

    def run_until_stopped(self) -> None:
        """Block until SIGINT/SIGTERM (or SIGHUP), then stop gracefully."""

        def _signal(signum, _frame) -> None:
            log.info("signal %d: shutting down", signum)
            self._stop.set()

        def _hangup(signum, _frame) -> None:
            # Python's default ended the process at once (no graceful stop, the folder's lock left behind); a
            # hangup is the terminal closing, or someone expecting a reload, which this service does not do
            log.warning("signal %d (SIGHUP): shutting down; the settings are read at start, so start the service "
                        "again to apply changed settings", signum)
            self._stop.set()

        signal.signal(signal.SIGTERM, _signal)
        signal.signal(signal.SIGINT, _signal)
        if hasattr(signal, "SIGHUP"):  # (not on Windows)
            signal.signal(signal.SIGHUP, _hangup)
        while not self._stop.wait(1.0):
            pass
        self.stop()


# -- command line ------------------------------------------------------------------------------


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run the service: ingest, detectors, alerts and the API",
        description="Run Foreshock: subscribe to the broker, store telemetry, detect faults, raise alerts and "
        "tickets, and serve the API and dashboard. Stops cleanly on SIGTERM, SIGHUP or Ctrl-C (settings are read at "
        "start: to apply changed settings, start it again).",
        epilog="Readiness: GET /readyz on the API answers 200 when its probes pass (database, telemetry store, "
        "broker, alert queue), 503 naming what fails; GET /healthz answers while the process runs. Exit status 0 "
        "after a clean stop; 1 when the start is refused (a folder, file, server, port or credential the machine "
        "refuses: the message names the setting); 2 when the settings do not parse; 3 when a worker was still busy "
        "at the stop's bound (docs/deployment.md, \"The service\"). Under systemd (Type=notify: NOTIFY_SOCKET set) it "
        "says READY=1 once it serves, waits for a database or broker that is not up yet (saying so as STATUS=) "
        "instead of refusing the start, and exits 78 where it would exit 1 for a setting, credential or database "
        "that waiting will not cure.",
    )
    p.add_argument("--no-api", action="store_true", help="do not serve the API and dashboard")
    p.add_argument("--auto-register", action="store_true", help="accept and register unknown devices")
    p.set_defaults(func=_run)


def _run(args, settings: Settings) -> int:
    if args.auto_register:
        settings = settings.model_copy(update={"ingest": settings.ingest.model_copy(update={"auto_register": True})})
    from foreshock.cli import CliError
    from ingest.types import IngestError

    log.info("%s", _starting_line(settings, args.config or os.environ.get("FORESHOCK_CONFIG")))
    # Under systemd (Type=notify) the service waits for a database or broker that is not there yet and says so
    # (STATUS=), tells systemd when it serves (READY=1), and a start refused for a setting exits EXIT_CONFIG,
    # which the unit does not restart. By hand (no NOTIFY_SOCKET) nothing of this changes.
    notifier = SystemdNotifier.from_environment()
    supervised = notifier.enabled
    refused = EXIT_CONFIG if supervised else 1
    stopping = threading.Event()
    if supervised:
        _stop_on_signals(stopping, notifier)
    options = PipelineOptions(api=not args.no_api, wait_for_database=supervised, notifier=notifier,
                              stop_event=stopping)
    try:
        pipeline = Pipeline(settings, options)
    except StartAbandoned:
        log.info("stop signal during the start: stopped while waiting for the database")
        return 0
    except StartupError as exc:
        raise CliError(str(exc), exit_code=refused) from None
    except DatabaseVersionError as exc:
        raise CliError(str(exc), exit_code=refused) from None
    except (sa_exc.DBAPIError, DatabaseFolderError) as exc:
        if not supervised:
            raise  # the command line names the database and the setting (foreshock.cli.main)
        raise CliError(f"cannot use the database {shown_url(settings.database_url)}: {db_reason(exc)} (settings "
                       "database.url / FORESHOCK_DATABASE__URL; waiting will not cure this, so the service is not "
                       "restarted: fix it, then start the service again)", exit_code=EXIT_CONFIG) from None
    try:
        pipeline.start()
    except StartupError as exc:
        pipeline.stop()
        raise CliError(str(exc), exit_code=refused) from None
    except IngestError as exc:  # paho refused the MQTT settings outright: a message, not a traceback
        pipeline.stop()
        raise CliError(f"{exc} (settings [mqtt], e.g. mqtt.url / FORESHOCK_MQTT__URL)", exit_code=refused) from None
    if supervised and not _wait_for_broker(pipeline, stopping):
        log.info("stop signal during the start: stopping")
        pipeline.stop()
        return 0
    if pipeline.ingest.connected:
        print(f"foreshock: ingesting from {settings.mqtt.url}", flush=True)
    else:  # the service runs on and connects when the broker answers; the log says why not yet
        print(f"foreshock: not connected to the broker at {settings.mqtt.url} yet; retrying (see the log)", flush=True)
    if pipeline.api_url:
        print(f"foreshock: API and dashboard on {pipeline.api_url}", flush=True)
    notifier.ready(f"serving: database {shown_url(settings.database_url)}, broker {settings.mqtt.url}"
                   + (f", API on {pipeline.api_url}" if pipeline.api_url else ""))
    pipeline.run_until_stopped()
    if pipeline.still_busy:
        print(f"foreshock: stopped with a worker still busy at the stop's bound ({'; '.join(pipeline.still_busy)}); "
              f"exit status {EXIT_BUSY_AT_STOP} (see the log)", file=sys.stderr, flush=True)
        _exit_now(EXIT_BUSY_AT_STOP)
    return 0


def _stop_on_signals(stopping: threading.Event, notifier: SystemdNotifier) -> None:
    """SIGTERM, SIGINT and SIGHUP set ``stopping`` (and say STOPPING=1) from the start on: while the start
    waits for the database or the broker, a stop then ends it cleanly (exit 0, the folder's lock released),
    where Python's default ended the process at once. :meth:`Pipeline.run_until_stopped` installs its own."""

    def _signal(signum, _frame) -> None:
        # no logging here: a handler that writes to stderr while the main thread is inside a write to it raises
        # "reentrant call" there; the start's end is logged by the main thread
        notifier.stopping()
        stopping.set()

    for name in ("SIGTERM", "SIGINT", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _signal)


BROKER_STATUS_EVERY_S = 5.0  # while the start waits for the broker: how often STATUS= says so


def _wait_for_broker(pipeline: Pipeline, stopping: threading.Event) -> bool:
    """Wait until ingest is connected to the broker (it retries on its own, with backoff), telling systemd
    every few seconds; False when a stop came first."""
    mqtt = pipeline.settings.mqtt
    began = time.monotonic()
    while not pipeline.ingest.connected:
        waited = time.monotonic() - began
        pipeline.notifier.status(f"waiting for the MQTT broker at {mqtt.host}:{mqtt.port}: not connected after "
                                 f"{waited:.0f} s (the log says why; mqtt.url / FORESHOCK_MQTT__URL)",
                                 extend_start_s=BROKER_STATUS_EVERY_S + 60)
        if stopping.wait(BROKER_STATUS_EVERY_S):
            return False
    return not stopping.is_set()


def _starting_line(settings: Settings, config_file: str | None) -> str:
    """The first line of the service's log: its version and where it keeps what (no password), so that the
    journal says which version started after an upgrade, and with which settings file."""
    from foreshock import __version__

    t = settings.telemetry
    if t.backend == "embedded":
        store = f"embedded at {settings.telemetry_path}"
    elif t.backend == "influx1":
        store = f"influx1 at {t.url}, database {t.database}" + (
            f", retention policy {t.retention_policy}" if t.retention_policy else "")
    else:
        store = f"influx2 at {t.url}, org {t.org}, bucket {t.bucket}"
    where = f"settings file {config_file}" if config_file else "no settings file"
    database = shown_url(settings.database_url)
    return (f"foreshock {__version__} starting ({where}): database {database}; telemetry store {store}; broker "
            f"{settings.mqtt.url}; data_dir {settings.data_dir}")


def _exit_now(code: int) -> None:
    """End the process with ``code`` at once: the logs and output flushed, but no interpreter
    teardown, which under a thread still inside numpy or scipy (a worker busy at the stop's bound)
    could abort the process ("terminate called without an active exception", SIGABRT)."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
