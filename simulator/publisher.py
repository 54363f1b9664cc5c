"""Publish a fleet over MQTT with the device protocol, in real time or accelerated.

Each unit connects as its own client (client id = unit id, its own credentials, last will
``offline`` retained on its status topic) and announces itself ``online`` (retained).

**The clock.** The platform rejects timestamps more than 5 minutes in the future, so simulated
time never runs ahead of the wall clock: at ``speed`` > 1 the default start is
``now - duration_s × speed`` (simulated history replayed fast, ending at about "now"); at speed 1 the
default start is now (live). In any case a message is only sent once the wall clock has reached
its timestamp's sim time, so a run whose sim clock catches up with now continues in real time.

>>> import threading
>>> from simulator.fleet import demo_fleet
>>> pub = FleetPublisher(demo_fleet(), "mqtt://127.0.0.1:1", speed=1440.0)
>>> pub.stats["messages"]
0
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from devices.protocol import status_payload, topic
from simulator.fleet import Fleet
from simulator.mqttpool import ClientPool, PublishError
from simulator.stream import FleetStream
from simulator.truth import Truth

__all__ = ["FleetPublisher", "PublishError", "SeqCounter"]

log = logging.getLogger(__name__)

Credentials = Callable[[str], tuple[str | None, str | None]]


class SeqCounter:
    """Each unit's one ``seq`` counter over its telemetry records and snapshots, in the order they are
    sent, as the device protocol asks (the stream numbers each kind on its own, and the platform counts
    a unit's messages lost from the gaps in this counter). A resend (the ``duplicate`` sensor fault: the
    same message again) carries the seq it had; a message that is never sent takes none.

    >>> from types import SimpleNamespace as E
    >>> unit, c = E(unit_id="P-1"), SeqCounter()
    >>> [c.next(E(unit=unit, kind=k, seq=s)) for k, s in (("telemetry", 0), ("vibration", 0), ("vibration", 0),
    ...                                                   ("telemetry", 1))]
    [0, 1, 1, 2]
    """

    def __init__(self) -> None:
        self._next: dict[str, int] = {}
        self._last: dict[str, tuple[str, int, int]] = {}  # unit -> (kind, stream seq, wire seq) last sent

    def next(self, e: Any) -> int:
        uid = e.unit.unit_id
        last = self._last.get(uid)
        if last is not None and last[:2] == (e.kind, e.seq):  # the same message again
            return last[2]
        seq = self._next.get(uid, 0)
        self._next[uid] = seq + 1
        self._last[uid] = (e.kind, e.seq, seq)
        return seq


class FleetPublisher:
    """Publishes ``fleet`` to the broker at ``mqtt_url``; :meth:`run` returns the ground truth."""

    def __init__(
        self,
        fleet: Fleet,
        mqtt_url: str,
        *,
        speed: float = 1.0,
        start_ms: int | None = None,
        username: str | None = None,
        password: str | None = None,
        credentials: Credentials | None = None,
        progress: Callable[[dict[str, Any]], None] | None = None,
        qos: int = 1,
        topic_root: str = "foreshock",
        progress_interval_s: float = 1.0,
        connect_progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed!r}")
        if qos not in (0, 1):
            raise ValueError(f"qos must be 0 or 1, got {qos!r}")
        parts = urlsplit(mqtt_url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
            raise ValueError(f"mqtt_url: expected mqtt://host:port, got {mqtt_url!r}")
        self.fleet = fleet
        self.host = parts.hostname
        self.tls = parts.scheme in ("mqtts", "ssl")
        self.port = parts.port or (8883 if self.tls else 1883)
        self.speed = float(speed)
        self.start_ms = start_ms
        self.username, self.password, self.credentials = username, password, credentials
        self.progress, self.progress_interval_s = progress, progress_interval_s
        self.connect_progress = connect_progress  # {"connecting": answered, "of": units} while connecting
        self.qos, self.root = qos, topic_root
        self.stats: dict[str, Any] = {
            "sim_ms": None,
            "sim_time_ms": None,
            "messages": 0,
            "bytes": 0,
            "snapshots": 0,
            "msg_per_s": 0.0,
            "units_connected": 0,
            "behind_s": 0.0,
            "elapsed_s": 0.0,
            "connect_s": None,
        }

    def _creds(self, unit_id: str) -> tuple[str | None, str | None]:
        if self.credentials is not None:
            return self.credentials(unit_id)
        unit = self.fleet.unit(unit_id)
        if unit.username is not None:
            return unit.username, unit.password
        return self.username, self.password

    def resolve_start(self, duration_s: float | None) -> int:
        """The sim clock's start (epoch ms): given, or ``now - duration_s × speed`` (now at speed 1)."""
        if self.start_ms is not None:
            return int(self.start_ms)
        span = (duration_s if duration_s is not None else self.fleet.duration_s / self.speed) * self.speed
        return int(time.time() * 1000 - (span * 1000 if self.speed > 1 else 0))

    def run(self, duration_s: float | None, stop_event: threading.Event | None = None) -> Truth:
        """Publish for ``duration_s`` wall seconds (None: until ``stop_event``) and return the truth."""
        stop_event = stop_event or threading.Event()
        start_ms = self.resolve_start(duration_s)
        end_ms = start_ms + int(duration_s * self.speed * 1000) if duration_s is not None else 2**62
        firmware = {u.unit_id: u.firmware for u in self.fleet.units}

        def announce(unit_id: str) -> None:  # a unit back after a broker restart says so, as on its first connect
            pool.publish(unit_id, topic(unit_id, "status", self.root),
                         status_payload("online", int(time.time() * 1000), firmware[unit_id]), qos=1, retain=True)

        pool = ClientPool(self.host, self.port, tls=self.tls, on_reconnect=announce)
        for u in self.fleet.units:
            user, pw = self._creds(u.unit_id)
            pool.add(
                u.unit_id,
                username=user,
                password=pw,
                will_topic=topic(u.unit_id, "status", self.root),
                will_payload=status_payload("offline"),
            )
        t_connect = time.time()
        pool.connect_all(progress=self.connect_progress, progress_interval_s=self.progress_interval_s)
        wall0 = time.time()
        self.stats["connect_s"] = round(wall0 - t_connect, 3)
        self.stats["units_connected"] = pool.connected
        for u in self.fleet.units:
            pool.publish(
                u.unit_id,
                topic(u.unit_id, "status", self.root),
                status_payload("online", int(wall0 * 1000), u.firmware),
                qos=1,
                retain=True,
            )
        sim_ms = start_ms
        last_progress = 0.0
        counter = SeqCounter()
        try:
            for e in FleetStream(self.fleet, start_ms).emissions(end_ms):
                if stop_event.is_set():
                    break
                # Send when the sim clock reaches the message, and never a stamp ahead of the wall clock.
                send_at = max(wall0 + (e.due_ms - start_ms) / (self.speed * 1000), e.due_ms / 1000)
                while (wait_s := send_at - time.time()) > 0 and not stop_event.is_set():
                    pool.service(min(wait_s, 0.2))
                    if time.time() - last_progress >= self.progress_interval_s:
                        last_progress = time.time()
                        # waiting for the next message's time is being on time: the clock is where the run
                        # is (not the last message's stamp, which read as falling behind until the next)
                        now_ms = max(sim_ms, min(self._ideal_ms(wall0, start_ms), e.due_ms))
                        self._report(pool, int(now_ms), wall0, start_ms)
                if stop_event.is_set():
                    break
                payload = e.payload(seq=counter.next(e))
                if pool.publish(
                    e.unit.unit_id, topic(e.unit.unit_id, e.kind, self.root), payload, qos=self.qos
                ):
                    self.stats["messages"] += 1
                    self.stats["bytes"] += len(payload)
                    self.stats["snapshots"] += e.kind == "vibration"
                sim_ms = e.due_ms
                if self.stats["messages"] % 200 == 0:  # acks and keepalive while sending flat out
                    pool.service(0)
                    if time.time() - last_progress >= self.progress_interval_s:
                        last_progress = time.time()
                        self._report(pool, sim_ms, wall0, start_ms)
            else:
                sim_ms = end_ms
            pool.flush(10.0)
            for u in self.fleet.units:
                pool.publish(
                    u.unit_id,
                    topic(u.unit_id, "status", self.root),
                    status_payload("offline", int(time.time() * 1000), u.firmware),
                    qos=1,
                    retain=True,
                )
            pool.flush(5.0)
        finally:
            self._report(pool, sim_ms, wall0, start_ms)
            pool.close()
        if pool.dropped:
            log.warning("%d unit connection(s) were dropped by the broker during the run", pool.dropped)
        return Truth.of(self.fleet, start_ms, min(sim_ms, end_ms))

    def _ideal_ms(self, wall0: float, start_ms: int) -> float:
        """Where the sim clock should be now: ``speed`` times the wall time since the start, never ahead of the
        wall clock."""
        return min(start_ms + max(time.time() - wall0, 0.0) * self.speed * 1000, time.time() * 1000)

    def _report(self, pool: ClientPool, sim_ms: int, wall0: float, start_ms: int) -> None:
        elapsed = max(time.time() - wall0, 1e-9)
        ideal = self._ideal_ms(wall0, start_ms)
        self.stats.update(
            sim_ms=sim_ms,
            sim_time_ms=sim_ms,
            elapsed_s=round(elapsed, 3),
            msg_per_s=round(self.stats["messages"] / elapsed, 1),
            units_connected=pool.connected,
            behind_s=round(max(ideal - sim_ms, 0) / 1000, 1),
            sim_hours=round((sim_ms - start_ms) / 3.6e6, 3),
        )
        if self.progress:
            self.progress(dict(self.stats))
