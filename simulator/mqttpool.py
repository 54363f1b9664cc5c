"""Many MQTT device connections in one thread: one paho client per unit, one selector for all.

Each unit is its own client (own client id, credentials and last will), as in the field. paho's
threaded loop would need a thread per client, so the pool drives the clients' external-loop API
(``loop_read`` / ``loop_write`` / ``loop_misc``) from one :mod:`selectors` loop. paho objects never
leave this module; errors come back as :class:`PublishError`.
"""

from __future__ import annotations

import logging
import selectors
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

__all__ = ["ClientPool", "PublishError"]

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """The broker could not be reached, refused a unit, or dropped it."""


RECONNECT_MAX_S = 30.0  # the longest wait between a dropped unit's attempts (doubling from 1 s)


@dataclass
class _Conn:
    client: mqtt.Client
    unit_id: str
    connected: bool = False
    refused: str | None = None
    retry_at: float = 0.0  # when a dropped unit tries again (monotonic)
    backoff_s: float = 1.0


class ClientPool:
    """Device connections to ``host:port``; :meth:`service` must be called often (it is the network loop)."""

    def __init__(
        self, host: str, port: int, *, keepalive_s: int = 60, tls: bool = False, ca_file: str | None = None,
        on_reconnect: Callable[[str], None] | None = None,
    ) -> None:
        """``on_reconnect(unit_id)``: called when a dropped unit is connected again (e.g. to announce it)."""
        self.host, self.port, self.keepalive_s = host, port, keepalive_s
        self.on_reconnect = on_reconnect
        self.tls, self.ca_file = tls, ca_file
        self._conns: dict[str, _Conn] = {}
        self._sel = selectors.DefaultSelector()
        self._last_misc = 0.0
        self._up = False  # every unit connected once: from then on a dropped one reconnects, as in the field
        self.dropped = 0
        self.reconnected = 0

    def add(
        self,
        unit_id: str,
        *,
        username: str | None,
        password: str | None,
        will_topic: str,
        will_payload: bytes,
    ) -> None:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=unit_id,
            clean_session=True,
            reconnect_on_failure=False,
        )
        if username is not None:
            client.username_pw_set(username, password)
        client.will_set(will_topic, will_payload, qos=1, retain=True)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(100_000)
        if self.tls:
            client.tls_set(ca_certs=self.ca_file, cert_reqs=ssl.CERT_REQUIRED)
        conn = _Conn(client, unit_id)
        client.on_connect = lambda c, u, flags, rc, props, conn=conn: self._on_connect(conn, rc)
        client.on_disconnect = lambda c, u, flags, rc, props, conn=conn: self._on_disconnect(conn, rc)
        self._conns[unit_id] = conn

    def _on_connect(self, conn: _Conn, rc: mqtt.ReasonCode) -> None:
        if rc.is_failure:
            conn.refused = str(rc)
        else:
            conn.connected, conn.backoff_s = True, 1.0
            if self._up:
                self.reconnected += 1
                log.info("unit %s reconnected", conn.unit_id)
                if self.on_reconnect is not None:
                    self.on_reconnect(conn.unit_id)

    def _on_disconnect(self, conn: _Conn, rc: mqtt.ReasonCode) -> None:
        if conn.connected:
            self.dropped += 1
            log.warning("unit %s was disconnected by the broker: %s", conn.unit_id, rc)
        conn.connected = False

    def connect_all(self, timeout_s: float = 30.0,
                    progress: Callable[[dict[str, Any]], None] | None = None, progress_interval_s: float = 1.0) -> None:
        """Connect every client and wait for the broker's answers: up to ``timeout_s`` without a new
        answer (a large fleet takes longer than that in all, but keeps answering). ``progress`` is
        called about every ``progress_interval_s`` with ``{"connecting": answered, "of": total}``.

        Raises :class:`PublishError` naming the refused units.
        """
        total = len(self._conns)
        last_shown = time.monotonic()

        def show(force: bool = False) -> None:
            nonlocal last_shown
            if progress is not None and (force or time.monotonic() - last_shown >= progress_interval_s):
                last_shown = time.monotonic()
                progress({"connecting": sum(c.connected or bool(c.refused) for c in self._conns.values()), "of": total})

        for conn in self._conns.values():
            try:
                conn.client.connect(self.host, self.port, keepalive=self.keepalive_s)
            except OSError as exc:
                self.close()
                raise PublishError(
                    f"cannot connect unit {conn.unit_id} to {self.host}:{self.port}: {exc}"
                ) from exc
            sock = conn.client.socket()
            if sock is not None:
                self._sel.register(sock, selectors.EVENT_READ, conn)
            show()
        answered, deadline = 0, time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.service(0.05)
            now_answered = sum(c.connected or bool(c.refused) for c in self._conns.values())
            if now_answered == total:
                break
            if now_answered > answered:  # still answering: the deadline is for silence, not for the whole fleet
                answered, deadline = now_answered, time.monotonic() + timeout_s
            show()
        show(force=True)
        refused = [(c.unit_id, c.refused) for c in self._conns.values() if c.refused]
        waiting = [c.unit_id for c in self._conns.values() if not c.connected and not c.refused]
        if refused or waiting:
            self.close()
            parts = (
                [
                    f"{len(refused)} unit(s) refused by the broker "
                    f"({', '.join(f'{u}: {r}' for u, r in refused[:5])})"
                ]
                if refused
                else []
            )
            if waiting:
                parts.append(
                    f"{len(waiting)} unit(s) got no answer in {timeout_s:.0f} s ({', '.join(waiting[:5])})"
                )
            raise PublishError("; ".join(parts))
        self._up = True

    def publish(
        self, unit_id: str, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> bool:
        """Queue and (mostly) send at once; False if the unit is not connected."""
        conn = self._conns[unit_id]
        if not conn.connected:
            return False
        info = conn.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            log.warning("publish for %s failed: %s", unit_id, mqtt.error_string(info.rc))
            return False
        if conn.client.want_write():
            conn.client.loop_write()
        return True

    def service(self, timeout_s: float) -> None:
        """Read what the broker sent (acks, pings) for up to ``timeout_s``; keepalive and pending writes."""
        for key, _ in self._sel.select(max(timeout_s, 0.0)):
            conn: _Conn = key.data
            rc = conn.client.loop_read(10)
            if rc != mqtt.MQTT_ERR_SUCCESS and rc != mqtt.MQTT_ERR_AGAIN:
                self._unregister(conn)
        now = time.monotonic()
        if now - self._last_misc >= 1.0:
            self._last_misc = now
            for conn in self._conns.values():
                if conn.client.socket() is None:
                    if self._up and not conn.connected and now >= conn.retry_at:
                        self._reconnect(conn, now)  # a broker restart dropped it: it came back in the field too
                    continue
                if conn.client.want_write():
                    conn.client.loop_write()
                conn.client.loop_misc()

    def _reconnect(self, conn: _Conn, now: float) -> None:
        try:
            conn.client.reconnect()
        except OSError as exc:
            conn.retry_at, conn.backoff_s = now + conn.backoff_s, min(conn.backoff_s * 2, RECONNECT_MAX_S)
            log.debug("unit %s cannot reconnect yet: %s", conn.unit_id, exc)
            return
        sock = conn.client.socket()
        if sock is not None:
            self._sel.register(sock, selectors.EVENT_READ, conn)
        conn.retry_at, conn.backoff_s = now + conn.backoff_s, min(conn.backoff_s * 2, RECONNECT_MAX_S)

    def pending(self) -> int:
        """Messages queued in the clients but not yet acknowledged (QoS 1) or written."""
        return sum(len(c.client._out_messages) for c in self._conns.values())

    def flush(self, timeout_s: float) -> None:
        """Service until every QoS 1 message is acknowledged or ``timeout_s`` passes."""
        deadline = time.monotonic() + timeout_s
        while self.pending() and time.monotonic() < deadline:
            for conn in self._conns.values():
                if conn.client.want_write():
                    conn.client.loop_write()
            self.service(0.05)

    def _unregister(self, conn: _Conn) -> None:
        sock = conn.client.socket()
        for key in list(self._sel.get_map().values()):
            if key.data is conn:
                self._sel.unregister(key.fileobj)
        del sock

    @property
    def connected(self) -> int:
        return sum(c.connected for c in self._conns.values())

    def close(self) -> None:
        self._up = False  # nothing reconnects once closed
        for conn in self._conns.values():
            conn.connected = False  # a disconnect we asked for is not a drop
            if conn.client.socket() is not None:
                try:
                    conn.client.disconnect()
                    conn.client.loop_write()
                except OSError:
                    pass
        for key in list(self._sel.get_map().values()):
            self._sel.unregister(key.fileobj)
        self._sel.close()
