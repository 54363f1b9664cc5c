"""The MQTT side of ingest: the only module that touches paho-mqtt.

:class:`MqttSource` connects with a fixed client id and a persistent session (MQTT 3.1.1,
``clean_session=False``) so the broker keeps QoS 1 messages while ingest is down, subscribes to
the device protocol's topics (as ``$share/<group>/...`` when ``mqtt.shared_group`` is set), and
reconnects with exponential backoff (``mqtt.reconnect_min_s`` .. ``reconnect_max_s``), subscribing
again on every connect. Acknowledgements are manual: :meth:`MqttSource.ack` is called by the
worker once a message is stored, spooled or dead-lettered, never by paho on receipt.

The network callback only wraps the message in a :class:`~ingest.types.RawMessage` and puts it on
the bounded queue (bounded by messages, ``ingest.queue_size``, and by payload bytes,
``ingest.queue_bytes``). When the queue is full the callback *waits* (counted as ``queue_full_waits``
and logged, naming the bound reached): paho then stops reading the socket and the broker holds
further messages (TCP and in-flight backpressure). Nothing is dropped. While the source is paused (shutdown), messages are
left unacknowledged; with the persistent session the broker redelivers them on the next connect.
"""

from __future__ import annotations

import logging
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from devices.protocol import subscriptions
from ingest.buffer import HandOff
from ingest.metrics import IngestMetrics
from ingest.types import IngestError, RawMessage

__all__ = ["MqttSource", "topic_filters"]

log = logging.getLogger(__name__)

_PUBACK = 0x40


class _BufferedSocket:
    """A socket whose ``recv`` serves from a 256 KiB user-space buffer.

    paho reads each packet with three ``recv`` calls (command byte, length bytes, body): one
    system call each. Buffered, a burst of messages costs one system call per 256 KiB. paho's
    loop asks ``pending()`` (meant for TLS sockets) before ``select``, so buffered bytes are
    never left waiting.
    """

    __slots__ = ("_buf", "_pos", "_sock")

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0

    def recv(self, bufsize: int) -> bytes:
        if self._pos >= len(self._buf):
            self._buf = self._sock.recv(262_144)  # may raise BlockingIOError, as a socket does
            self._pos = 0
            if not self._buf:
                return b""
        end = self._pos + bufsize
        out = self._buf[self._pos : end]
        self._pos = min(end, len(self._buf))
        return out

    def pending(self) -> int:
        inner = self._sock.pending() if hasattr(self._sock, "pending") else 0
        return len(self._buf) - self._pos + inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _Client(paho.Client):
    """paho's client with a buffered socket and batched acknowledgements (see :meth:`ack_many`)."""

    def _create_socket(self):  # type: ignore[override]
        return _BufferedSocket(super()._create_socket())

    def ack_many(self, acks: Iterable[tuple[int, int]]) -> None:
        """Acknowledge many QoS 1 messages with one queued write (one wake-up, one ``send``)."""
        mids = [mid for mid, qos in acks if qos == 1]
        others = [(mid, qos) for mid, qos in acks if qos == 2]
        if mids:
            packet = b"".join(struct.pack("!BBH", _PUBACK, 2, mid) for mid in mids)
            self._packet_queue(_PUBACK, packet, 0, 1)
        for mid, qos in others:
            self.ack(mid, qos)


def topic_filters(topic_root: str, shared_group: str | None) -> list[str]:
    """The subscriptions of an ingest worker.

    >>> topic_filters("foreshock", "ingest")[0]
    '$share/ingest/foreshock/v1/+/telemetry'
    """
    filters = subscriptions(topic_root)
    if shared_group:
        if any(c in shared_group for c in "+#/") or not shared_group:
            raise ValueError(f"mqtt.shared_group {shared_group!r} must be one topic level without '+', '#', '/'")
        filters = [f"$share/{shared_group}/{f}" for f in filters]
    return filters


_SHORT_S = 30  # a connection closed by the broker this soon after it was made counts as dropped early
_TAKEOVER_DROPS = 3  # ... this many times within _TAKEOVER_WINDOW_S: another client has the same id
_TAKEOVER_WINDOW_S = 300


class MqttSource:
    def __init__(
        self,
        mqtt: Any,  # foreshock.settings.MqttSettings
        out: HandOff[RawMessage],
        metrics: IngestMetrics,
        *,
        client_id: str | None = None,
    ) -> None:
        self.settings = mqtt
        self.filters = topic_filters(mqtt.topic_root, mqtt.shared_group)
        self._queue = out
        self._metrics = metrics
        self._paused = threading.Event()
        self._connected = threading.Event()
        self._last_full_log = 0.0
        self._connect_failures = 0
        self._next_fail_log = 0.0
        self._answered = False  # the server answered this connection's CONNECT (accepted or refused)
        self._refused = False  # ... and refused it
        self._connected_at: float | None = None
        self._connection = 0  # counts connects: a packet id is valid on its own connection only
        self._short_drops: list[float] = []  # when connections that had just been made were closed
        self._drop_unjudged = False  # the last early drop: no connect since, successful or failed
        self._next_takeover_log = 0.0
        # The receive time never goes back while the service runs: a server clock stepped back (an NTP
        # step, a restored VM) put every unit's correctly stamped message "in the future", and all were
        # dead-lettered as future_timestamp (and acknowledged). Wall time at start plus monotonic time since.
        self._wall_at_start = time.time()
        self._mono_at_start = time.monotonic()
        self._last_step_log = 0.0
        self._client_id = client_id or mqtt.client_id
        self._client = _Client(
            CallbackAPIVersion.VERSION2,
            client_id=self._client_id,
            clean_session=False,
            protocol=paho.MQTTv311,
        )
        self._client.manual_ack_set(True)
        self._client.reconnect_delay_set(max(1, round(mqtt.reconnect_min_s)), max(1, round(mqtt.reconnect_max_s)))
        self._client.max_queued_messages_set(0)
        if mqtt.username:
            self._client.username_pw_set(mqtt.username, mqtt.password.get_secret_value() if mqtt.password else None)
        if not mqtt.tls and (mqtt.ca_file or mqtt.cert_file or mqtt.key_file):
            log.warning("mqtt.ca_file/cert_file/key_file are set but mqtt.url %s is not mqtts://: TLS is NOT used",
                        mqtt.url)
        if mqtt.tls:
            self._client.tls_set(
                ca_certs=str(mqtt.ca_file) if mqtt.ca_file else None,
                certfile=str(mqtt.cert_file) if mqtt.cert_file else None,
                keyfile=str(mqtt.key_file) if mqtt.key_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    # -- paho callbacks (network thread) --------------------------------------------------------

    def _on_connect_fail(self, client, userdata) -> None:
        """No TCP (or TLS) connection at all: said at the first failure, then once a minute.

        Without this an unreachable broker (wrong host or port, broker down) showed once, as 'not
        connected after 10 s', and then never again while paho kept retrying.
        """
        self._connect_failures += 1
        if self._drop_unjudged:
            # the broker cannot be reached right after it closed the connection: it went away (a restart),
            # no other client took the session (a broker restarted again and again was called a takeover)
            self._drop_unjudged = False
            if self._short_drops:
                self._short_drops.pop()
        now = time.monotonic()
        if now < self._next_fail_log:
            return
        self._next_fail_log = now + 60.0
        # paho calls this from its `except OSError:` around the connect: the exception says which it was
        exc = sys.exc_info()[1]
        if isinstance(exc, ssl.SSLCertVerificationError):
            self._log_certificate_refused(exc)
            return
        host, port = self.settings.host, self.settings.port
        if isinstance(exc, ConnectionRefusedError):
            why = (f"nothing answers at {host}:{port} (connection refused): is the broker running, and is "
                   "that its port?")
        elif isinstance(exc, socket.gaierror):
            why = f"the name {host!r} does not resolve ({exc.strerror or exc})"
        elif isinstance(exc, (TimeoutError, socket.timeout)):
            why = (f"nothing answers at {host}:{port} (no answer in time: a firewall that drops the "
                   "connection, or an address where nothing runs)")
        else:
            tls = (", or the TLS handshake failed (an mqtts:// URL to a port that speaks plain MQTT, or a "
                   "certificate the broker or mqtt.ca_file does not accept)") if self.settings.tls else ""
            detail = f" ({exc})" if exc is not None else ""
            why = f"nothing answers at {host}:{port}, or the name does not resolve{tls}{detail}"
        log.warning("cannot reach the MQTT broker at %s (%d failed attempt(s) so far): %s; retrying "
                    "(mqtt.url / FORESHOCK_MQTT__URL)", self.settings.url, self._connect_failures, why)

    def _log_certificate_refused(self, exc: ssl.SSLCertVerificationError) -> None:
        """The broker answered TLS but its certificate was not accepted: said as that, with the reason the
        check gave and the settings involved. It was 'nothing answers …, or the name does not resolve, or
        the TLS handshake failed', three guesses for a cause that is known."""
        detail = getattr(exc, "verify_message", None)
        why = f"certificate verify failed: {detail}" if detail else str(exc)
        ca = self.settings.ca_file
        trusted = f"the CA certificate(s) in mqtt.ca_file {ca}" if ca else "the system's CA certificates"
        if "mismatch" in str(why):
            hint = (f"the certificate does not name {self.settings.host!r}: use the host name the certificate "
                    "was issued for in mqtt.url")
        else:
            hint = (f"it is not signed by {trusted}: set mqtt.ca_file (FORESHOCK_MQTT__CA_FILE) to the CA that "
                    "signed the broker's certificate")
        log.warning("the MQTT broker at %s answered, but its TLS certificate was refused (%s; %d failed attempt(s) "
                    "so far): %s (mqtt.url / FORESHOCK_MQTT__URL); retrying",
                    self.settings.url, why, self._connect_failures, hint)

    def _not_an_mqtt_broker(self, reason_code: Any) -> None:
        """The TCP connection was made, then closed (or timed out) before the server answered CONNECT: no
        MQTT broker speaks plain MQTT there (most often mqtt:// to a TLS listener). Said like a failed
        connect: at the first attempt, then once a minute. It was 'disconnected from … (the connection was
        closed or lost)' at every retry, which reads as a network fault."""
        self._connect_failures += 1
        now = time.monotonic()
        if now < self._next_fail_log:
            return
        self._next_fail_log = now + 60.0
        why = "it closed the connection" if str(reason_code) == "Unspecified error" else str(reason_code)
        tls = ("is it the broker's MQTT-over-TLS listener? mqtts:// and a certificate it accepts (mqtt.ca_file) are "
               "needed" if self.settings.tls else "a TLS listener needs mqtts://")
        log.warning("the server at %s took the connection but did not answer as an MQTT broker (%s; %d failed "
                    "attempt(s) so far): is mqtt.url the broker's address and port? %s (mqtt.url / "
                    "FORESHOCK_MQTT__URL); if it is the broker, its log says why it closed the connection; retrying",
                    self.settings.url, why, self._connect_failures, tls)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self._answered = True
        if reason_code.is_failure:
            # said at the first refusal, then once a minute; the broker's close that follows is not a lost connection
            self._refused = True
            self._connect_failures += 1
            now = time.monotonic()
            if now < self._next_fail_log:
                return
            self._next_fail_log = now + 60.0
            hint = ""
            if str(reason_code) in ("Not authorized", "Bad user name or password"):
                hint = ("; check mqtt.username and mqtt.password (FORESHOCK_MQTT__USERNAME, "
                        "FORESHOCK_MQTT__PASSWORD) against the broker's password file")
            log.error("MQTT broker %s refused the connection: %s (%d failed attempt(s) so far)%s; retrying",
                      self.settings.url, reason_code, self._connect_failures, hint)
            return
        if self._connect_failures:
            log.info("reached the MQTT broker after %d failed attempt(s)", self._connect_failures)
            self._connect_failures, self._next_fail_log = 0, 0.0
        self._connected_at = time.monotonic()
        self._drop_unjudged = False
        self._connection += 1  # messages of earlier connections are no longer acknowledged (ack_many)
        log.info(
            "connected to %s (session present: %s); subscribing to %s",
            self.settings.url, flags.session_present, ", ".join(self.filters),
        )
        client.subscribe([(f, self.settings.qos) for f in self.filters])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        failed = [str(rc) for rc in reason_codes if rc.is_failure]
        if failed:
            log.error("subscription refused by the broker (check the ACL): %s", ", ".join(failed))
            return
        self._connected.set()  # connected *and* subscribed

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        answered, self._answered = self._answered, False
        refused, self._refused = self._refused, False
        if self._paused.is_set() or refused:
            return
        if not answered:
            self._not_an_mqtt_broker(reason_code)
            return
        # MQTT 3.1.1 carries no reason: paho calls a closed socket "Unspecified error", which reads as a bug
        why = "the connection was closed or lost" if str(reason_code) == "Unspecified error" else str(reason_code)
        log.warning("disconnected from %s (%s); reconnecting with backoff", self.settings.url, why)
        self._note_drop(time.monotonic())

    def _note_drop(self, now: float) -> None:
        """Connections the broker keeps closing soon after they are made point to another client with
        the same client id: each connect takes the session from the other, and both flap forever
        (MQTT 3.1.1 gives no reason). Said as an error, with the remedy, at most every 5 minutes.
        A drop after which the broker cannot be reached (:meth:`_on_connect_fail`) is not counted:
        that was the broker going away."""
        since, self._connected_at = self._connected_at, None
        if since is None or now - since > _SHORT_S:
            return
        self._short_drops = [t for t in self._short_drops if now - t < _TAKEOVER_WINDOW_S] + [now]
        self._drop_unjudged = True
        self._metrics.count("connections_dropped_early")
        if len(self._short_drops) >= _TAKEOVER_DROPS and now >= self._next_takeover_log:
            self._next_takeover_log = now + 300.0
            log.error("the broker at %s closed this connection %d times in the last %d s, each within %d s of "
                      "connecting: another client is probably connected with the same client id %r and takes the "
                      "session over (the broker's log says 'already connected, closing old connection'). Give every "
                      "service its own mqtt.client_id (FORESHOCK_MQTT__CLIENT_ID)",
                      self.settings.url, len(self._short_drops), _TAKEOVER_WINDOW_S, _SHORT_S, self._client_id)

    def _received_at(self) -> float:
        """The wall clock, or, when it was stepped back since the start, where it would be without the step."""
        wall = time.time()
        steady = self._wall_at_start + (time.monotonic() - self._mono_at_start)
        if wall >= steady - 1.0:
            return wall
        now = time.monotonic()
        if now - self._last_step_log > 3600.0 or not self._last_step_log:
            self._last_step_log = now
            log.warning("this server's clock was set back %.0f s while the service ran: until the service restarts, "
                        "messages are taken as received at the time the clock would show without that step (the "
                        "units' timestamps would otherwise be refused as in the future); check the server's time "
                        "(timedatectl, NTP), and if it was wrong before the step and is right now, restart the "
                        "service", steady - wall)
        return steady

    def _on_message(self, client, userdata, msg) -> None:
        payload = msg.payload
        raw = RawMessage(msg.topic, payload, self._received_at(), msg.mid, msg.qos, msg.retain, self._connection)
        n = len(payload)  # its weight against ingest.queue_bytes (the worker gives it back when done)
        while not self._paused.is_set():
            if self._queue.put(raw, 0.5, n):
                return
            self._metrics.count("queue_full_waits")
            now = time.monotonic()
            if now - self._last_full_log > 10:
                self._last_full_log = now
                self._log_full()
        self._metrics.count("deferred_at_stop")

    def _log_full(self) -> None:
        """Which bound the queue reached, and the setting that raises it."""
        queue = self._queue
        if queue.full_bound() == "count":
            held = f"{len(queue)} messages reached ingest.queue_size (FORESHOCK_INGEST__QUEUE_SIZE)"
        else:
            held = (f"{queue.nbytes / 1024**2:.1f} MiB of payloads ({len(queue)} messages queued, plus the batch "
                    f"being written) reached ingest.queue_bytes = {queue.max_bytes / 1024**2:.1f} MiB "
                    f"(FORESHOCK_INGEST__QUEUE_BYTES)")
        log.warning("ingest queue full: %s; holding the MQTT stream (backpressure: the broker keeps the rest). The "
                    "store or the detectors are slower than the stream; raise that setting only if memory allows",
                    held)

    # -- control --------------------------------------------------------------------------------

    def start(self, timeout_s: float = 10.0) -> None:
        """Connect (in the background, reconnecting forever) and wait up to ``timeout_s`` for the first connect."""
        try:
            self._client.connect_async(self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s)
        except (OSError, ValueError) as exc:
            raise IngestError(f"cannot connect to MQTT broker {self.settings.url}: {exc}") from exc
        self._client.loop_start()
        if not self._connected.wait(timeout_s):
            log.warning("not connected to %s after %.0f s; still trying", self.settings.url, timeout_s)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge one message to the broker (no-op for QoS 0)."""
        if qos > 0:
            self._client.ack(mid, qos)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Publish on the ingest connection (e.g. the retained ``.../health`` state); does not wait.

        Raises :class:`IngestError` when paho refuses it outright (bad topic, payload too large).
        """
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
            raise IngestError(f"cannot publish to {topic!r}: {paho.error_string(info.rc)}")

    def ack_many(self, batch: Iterable[RawMessage]) -> None:
        """Acknowledge the messages of ``batch`` (QoS 1 ones in one write), those of this connection only.

        A message that came on an earlier connection is not acknowledged: its packet id may name
        another message now (a broker that lost the session numbers from 1 again), and a broker
        that kept the session sends it again, which the store takes as the same point.
        """
        acks: list[tuple[int, int]] = []
        stale = 0
        for raw in batch:
            if not raw.qos:
                continue
            if raw.connection == self._connection:
                acks.append((raw.mid, raw.qos))
            else:
                stale += 1
        if stale:
            self._metrics.count("acks_of_old_connections_skipped", stale)
        if acks:
            self._client.ack_many(acks)

    def pause(self) -> None:
        """Stop handing messages to the queue (they stay unacknowledged; the broker redelivers them)."""
        self._paused.set()

    def stop(self) -> None:
        self._paused.set()
        self._client.disconnect()
        self._client.loop_stop()
