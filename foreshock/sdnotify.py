"""systemd's readiness protocol for ``foreshock run`` (``Type=notify``): see :class:`SystemdNotifier`
and docs/deployment.md, step 7."""

from __future__ import annotations

import logging
import os
import socket
import threading

__all__ = ["SystemdNotifier"]

log = logging.getLogger("foreshock.service")


class SystemdNotifier:
    """systemd's readiness protocol (``sd_notify(3)``) without libsystemd: ``KEY=value`` lines in one
    datagram to the AF_UNIX socket named by ``$NOTIFY_SOCKET``, a path or, starting with ``@``, an
    abstract socket. Without the variable (not started by systemd as ``Type=notify``) it sends nothing.
    A send that fails is logged once and never raises: the service does not depend on it."""

    def __init__(self, address: str | None) -> None:
        self._address: str | None = None
        self._sock: socket.socket | None = None
        # reentrant: a signal handler (STOPPING=1) may run in the main thread while it is inside send()
        self._lock = threading.RLock()
        self._failed = False
        self._stopping = False
        if address and address[0] in "@/":
            self._address = "\0" + address[1:] if address[0] == "@" else address
        elif address:
            log.warning("NOTIFY_SOCKET=%s is neither a path nor an abstract socket (@name): systemd is not told "
                        "when the service is ready", address)

    @classmethod
    def from_environment(cls) -> SystemdNotifier:
        return cls(os.environ.get("NOTIFY_SOCKET"))

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def send(self, *fields: str) -> bool:
        """Send ``fields`` (``READY=1``, ``STATUS=...``) in one datagram; whether it was sent."""
        if self._address is None:
            return False
        data = "\n".join(f.replace("\n", " ") for f in fields).encode("utf-8", "replace")
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sock.sendto(data, self._address)
            except OSError as exc:
                if not self._failed:
                    self._failed = True
                    log.warning("cannot notify systemd at NOTIFY_SOCKET (%s): %s", fields[0],
                                exc.strerror or exc)
                return False
        return True

    def status(self, text: str, *, extend_start_s: float | None = None) -> None:
        """``STATUS=text`` (what ``systemctl status`` shows); ``extend_start_s``: the start may take that much
        longer (``EXTEND_TIMEOUT_USEC``: a finite ``TimeoutStartSec=`` does not end a start that waits)."""
        fields = [f"STATUS={text}"]
        if extend_start_s is not None:
            fields.append(f"EXTEND_TIMEOUT_USEC={int(extend_start_s * 1_000_000)}")
        self.send(*fields)

    def ready(self, text: str) -> None:
        self.send("READY=1", f"STATUS={text}")

    def stopping(self, text: str = "stopping") -> None:
        """``STOPPING=1``, once (a signal and the stop that follows both say it)."""
        if not self._stopping:
            self._stopping = True
            self.send("STOPPING=1", f"STATUS={text}")

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


# What a PostgreSQL server or libpq says when waiting will not help: the credentials, the role or the database
# are wrong, or TLS is configured differently on the two sides. psycopg gives no SQLSTATE for a failed connect,
# only libpq's message. Anything else (refused, timed out, a name that does not resolve yet, the server
# starting up or full) is waited for.
