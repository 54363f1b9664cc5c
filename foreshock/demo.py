"""``foreshock demo``: the whole product on one machine, with nothing installed but Python.

It starts an MQTT broker (Mosquitto when installed, otherwise the embedded amqtt broker, on 1883 or
a free port), the service on embedded storage (SQLite for telemetry and the database, in a fresh
directory), and a small simulated fleet in accelerated time in which units develop faults. It
prints progress (simulated time, messages per second, alerts, tickets) and where the API and
dashboard are; ``--duration`` ends it by itself, Ctrl-C ends it cleanly.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import signal
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from foreshock.broker import MosquittoBroker, free_port, mosquitto_available
from foreshock.cli import CliError
from foreshock.embedded_broker import EmbeddedBroker
from foreshock.settings import Settings, load_settings

__all__ = ["register", "Demo", "EmbeddedBroker"]

log = logging.getLogger(__name__)


def start_broker(preferred_port: int = 1883, embedded: bool = False):
    port = free_port(preferred_port)
    if mosquitto_available() and not embedded:
        # a port of its own choosing (preferred one taken) is traded for another if taken before Mosquitto binds it
        return MosquittoBroker(port=port if port == preferred_port else 0, persistence=True).start(), "Mosquitto"
    return EmbeddedBroker(port).start(), "embedded amqtt"


class Demo:
    def __init__(self, args: argparse.Namespace, base: Settings) -> None:
        self.args = args
        self.base = base
        self.stop_event = threading.Event()
        self.out = sys.stdout

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def run(self) -> int:
        args = self.args
        if not getattr(args, "log_level", None):
            # The progress lines are the demo's interface; library chatter only when asked for.
            logging.getLogger().setLevel(logging.WARNING)
        data_dir = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="foreshock-demo-"))
        used = [name for name in ("foreshock.db", "telemetry.db") if (data_dir / name).exists()]
        if used:
            # The fleet's simulated time always ends now: a second run replays the hours the first one did,
            # which its detectors (in this folder) have learnt past; they would assess none of it.
            raise CliError(f"--data-dir {data_dir} holds an earlier demo's data ({', '.join(used)}): a new demo "
                           "replays the same simulated hours up to now, which that demo's detectors have already "
                           "learnt past, so they would assess none of it; give a new or empty folder (or delete "
                           "this one)")
        broker, broker_kind = start_broker(args.mqtt_port, embedded=args.embedded_broker)
        self.say(f"broker      {broker_kind} on {broker.url}")
        api_port = free_port(args.api_port)
        settings = load_settings(
            None,
            data_dir=str(data_dir),
            mqtt={"url": broker.url, "client_id": f"foreshock-demo-{secrets.token_hex(3)}"},
            telemetry={"backend": "embedded"},
            database={"url": f"sqlite:///{data_dir / 'foreshock.db'}"},
            api={"host": "127.0.0.1", "port": api_port},
            ingest={"auto_register": True},
            log_level=self.base.log_level,
        )
        from foreshock.service import Pipeline, PipelineOptions

        pipeline = Pipeline(settings, PipelineOptions(api=not args.no_api, tick_interval_s=5.0))
        try:
            return self._run(pipeline, broker.url, data_dir)
        finally:
            self.say("stopping …")
            pipeline.stop(timeout_s=10)
            broker.cleanup()
            self.say(f"data        kept in {data_dir}" + ("" if args.data_dir else " (rm -r it when done)"))

    def _run(self, pipeline, broker_url: str, data_dir: Path) -> int:
        args = self.args
        from simulator.fleet import demo_fleet
        from simulator.publisher import FleetPublisher

        fleet = demo_fleet(seed=args.seed)
        registered = self._register_fleet(pipeline, fleet)
        pipeline.start()
        self.say(f"data        {data_dir}")
        if pipeline.api_url:
            token = self._admin_token(pipeline)
            self.say(f"dashboard   {pipeline.api_url}/   (token: {token})")
            self.say(f"API         {pipeline.api_url}/api/v1/tickets   (Authorization: Bearer {token})")
        sim_span_s = args.duration * args.speed
        start_ms = int((time.time() - sim_span_s) * 1000)
        self.say(
            f"fleet       {registered} units, {args.speed:g}x accelerated: {sim_span_s / 86400:.1f} simulated days "
            f"in {args.duration:.0f} s (simulated time runs from "
            f"{_fmt(start_ms / 1000)} up to now)"
        )
        publisher = FleetPublisher(fleet, broker_url, speed=args.speed, start_ms=start_ms)
        truth_box: dict[str, Any] = {}

        def publish() -> None:
            try:
                truth_box["truth"] = publisher.run(args.duration, self.stop_event)
            except Exception as exc:  # noqa: BLE001 - reported below, the demo then ends
                truth_box["error"] = exc
                log.exception("simulator failed")
            finally:
                self.stop_event.set()

        sim = threading.Thread(target=publish, name="demo-simulator", daemon=True)
        self._install_signals()
        sim.start()
        first_ticket_at: float | None = None
        t0 = time.monotonic()
        last_count, last_t = 0, t0
        behind = False
        while not self.stop_event.wait(args.progress_interval):
            now = time.monotonic()
            if now - t0 > args.duration + 2.0 and sim.is_alive():
                # A --speed beyond what this machine publishes: the simulator would go on for minutes after
                # the duration asked for (a 20 s demo at 20000x took 82 s). It ends where it got to.
                behind = True
                self.stop_event.set()
            stats = dict(getattr(publisher, "stats", {}) or {})
            sent = int(stats.get("messages", 0))
            rate = (sent - last_count) / max(now - last_t, 1e-6)
            last_count, last_t = sent, now
            alerts, tickets = self._counts(pipeline)
            if tickets and first_ticket_at is None:
                first_ticket_at = now - t0
            sim_ms = stats.get("sim_time_ms")
            self.say(
                f"[{now - t0:5.0f}s] sim {_fmt(sim_ms / 1000) if sim_ms else '-':16}  "
                f"msgs {sent:>8,} ({rate:6.0f}/s)  alerts {alerts:>2}  tickets {tickets:>2}"
            )
        sim.join(timeout=10)
        if "error" in truth_box:
            raise CliError(f"the simulator failed: {truth_box['error']}", exit_code=1)
        if behind:
            stats = dict(getattr(publisher, "stats", {}) or {})
            reached = stats.get("sim_time_ms") or start_ms
            self.say(
                f"note        the simulator fell behind: in {args.duration:.0f} s it published "
                f"{int(stats.get('messages', 0)):,} messages, up to simulated {_fmt(reached / 1000)}, "
                f"{(reached - start_ms) / 86_400_000:.1f} of the {sim_span_s / 86400:.1f} simulated days asked for; "
                "a lower --speed keeps up"
            )
        time.sleep(1.0)  # let the last batch through the pipeline
        self._summary(pipeline, first_ticket_at)
        return 0

    def _register_fleet(self, pipeline, fleet) -> int:
        """Put the fleet's units and models in the registry so detectors get the machine data."""
        from foreshock.demo_fleet import register_fleet

        return register_fleet(pipeline.registry, fleet)

    def _admin_token(self, pipeline) -> str:
        from api.tokens import create_token

        with pipeline.sessions() as session:
            _, token = create_token(session=session, name=f"demo-{secrets.token_hex(3)}", role="admin")
            session.commit()
        return token

    def _counts(self, pipeline) -> tuple[int, int]:
        from sqlalchemy import func, select

        from alerts.models import Alert, Ticket

        with pipeline.sessions() as session:
            return (
                session.scalar(select(func.count()).select_from(Alert)) or 0,
                session.scalar(select(func.count()).select_from(Ticket)) or 0,
            )

    def _summary(self, pipeline, first_ticket_at: float | None) -> None:
        from sqlalchemy import select

        from alerts.models import Ticket

        with pipeline.sessions() as session:
            tickets = list(session.scalars(select(Ticket).order_by(Ticket.id)))
            self.say("")
            if not tickets:
                self.say("no ticket was opened (try a longer --duration)")
            for t in tickets:
                self.say(
                    f"ticket {t.number}  unit {t.device_id}  {t.failure_mode or '-'}  grade {t.grade}  {t.status}"
                )
        if first_ticket_at is not None:
            self.say(f"first ticket after {first_ticket_at:.0f} s")
        m = getattr(pipeline.ingest, "metrics", None)
        if m is not None and hasattr(m, "snapshot"):
            snap = m.snapshot()
            self.say(
                "ingest      "
                + ", ".join(f"{k} {v}" for k, v in snap.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
            )

    def _install_signals(self) -> None:
        def _stop(signum, _frame) -> None:
            self.say("\nstopping (signal %d) …" % signum)
            self.stop_event.set()

        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)


def _fmt(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run everything locally with a simulated fleet that develops faults",
        description="Start a broker, the service on embedded storage and a simulated fleet in accelerated time. "
        "Within a few minutes a unit fails and a quality ticket opens. Ctrl-C stops it cleanly.",
    )
    p.add_argument("--duration", type=_positive, default=180.0, help="seconds to run (default 180)")
    p.add_argument("--speed", type=_positive, default=1440.0, help="simulated seconds per real second (default 1440: a day a minute)")
    p.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")
    p.add_argument("--data-dir", help="keep the demo's data in this folder, new or empty (default: a fresh "
                   "temporary directory)")
    p.add_argument("--mqtt-port", type=int, default=1883, help="broker port if free (default 1883)")
    p.add_argument("--api-port", type=int, default=8000, help="API port if free (default 8000)")
    p.add_argument("--no-api", action="store_true", help="do not serve the API and dashboard")
    p.add_argument("--embedded-broker", action="store_true", help="use amqtt even when Mosquitto is installed")
    p.add_argument("--progress-interval", type=_positive, default=2.0, help=argparse.SUPPRESS)
    p.set_defaults(func=lambda args, settings: Demo(args, settings).run())


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value
