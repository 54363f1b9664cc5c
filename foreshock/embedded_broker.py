"""The embedded MQTT broker (amqtt) of ``foreshock demo``, run in a child process of its own.

It is the demo's fallback when Mosquitto is not installed. amqtt is written in Python: run as a thread
of the demo's process it shared one interpreter lock with the simulator, ingest and the detectors, fell
behind, gave up on messages whose PUBACK it had not had within its fixed 5 s (printing a traceback
for each, thousands in a 40 s demo) and delivered about 70 % of what the simulator published. In a
process of its own it keeps up, as Mosquitto does.

The child ends when told to (:meth:`EmbeddedBroker.cleanup`) and also when the process that started
it ends without that (killed): it watches its standard input, a pipe from the parent, for its end.
Ctrl-C in a terminal reaches both; the child ignores it and is stopped by the demo, after the demo
has stopped its own MQTT clients. Its log (amqtt's errors) goes to a file of its own, as Mosquitto's does,
removed with it; a start that fails says the log's last lines.

``python -m foreshock.embedded_broker PORT [HOST]`` runs the child's side.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from foreshock.broker import BrokerError, free_port, wait_for_port

__all__ = ["EmbeddedBroker", "main"]

PORT_ATTEMPTS = 3  # ports tried when the one chosen free was taken before the child bound it
START_TIMEOUT_S = 20.0


class EmbeddedBroker:
    """amqtt in a child process, anonymous access, listening on ``host:port``."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port
        self._proc: subprocess.Popen | None = None
        self.log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> EmbeddedBroker:
        if importlib.util.find_spec("amqtt") is None:
            raise BrokerError(
                "no MQTT broker available: install Mosquitto (apt-get install mosquitto) "
                "or the embedded one (pip install 'foreshock[embedded-broker]')"
            )
        problem = ""
        for attempt in range(PORT_ATTEMPTS):
            if attempt:
                self.port = free_port()  # the one chosen was taken meanwhile
            fd, name = tempfile.mkstemp(prefix="foreshock-amqtt-", suffix=".log")
            self.log_path = Path(name)
            with os.fdopen(fd, "wb") as log:
                self._proc = subprocess.Popen(
                    [sys.executable, "-m", "foreshock.embedded_broker", str(self.port), self.host],
                    stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, close_fds=True,
                )
            try:
                wait_for_port(self.host, self.port, START_TIMEOUT_S, proc=self._proc)
                return self
            except BrokerError as exc:
                said = self.log_path.read_text(errors="replace").strip().splitlines()[-3:]
                problem = f"{exc}" + (f"; its log: {' '.join(said)}" if said else "")
                self.cleanup()
        raise BrokerError(f"the embedded broker did not start on {self.host}:{self.port}: {problem}")

    def cleanup(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdin is not None:
            proc.stdin.close()
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None


def main(argv: list[str] | None = None) -> int:
    """The child: serve until SIGTERM or until the parent's end of the stdin pipe closes."""
    import asyncio
    import logging
    import warnings

    args = sys.argv[1:] if argv is None else argv
    port, host = int(args[0]), (args[1] if len(args) > 1 else "127.0.0.1")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the demo stops it after its own clients
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # amqtt's plugin loading, not the user's
    logging.basicConfig(level=logging.ERROR, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("transitions").setLevel(logging.ERROR)
    from amqtt.broker import Broker

    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "sys_interval": 0,
        "auth": {"allow-anonymous": True, "plugins": ["auth_anonymous"]},
        "topic-check": {"enabled": False},
    }

    async def serve() -> int:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, done.set)

        def watch_parent() -> None:
            try:
                while os.read(0, 4096):
                    pass
            except OSError:
                pass
            loop.call_soon_threadsafe(done.set)

        threading.Thread(target=watch_parent, name="parent-watch", daemon=True).start()
        broker = Broker(config)
        try:
            await broker.start()
        except Exception as exc:  # noqa: BLE001 - one line for the parent, not a traceback
            print(f"cannot listen on {host}:{port}: {exc}", file=sys.stderr, flush=True)
            return 1
        await done.wait()
        try:
            await asyncio.wait_for(broker.shutdown(), 5)
        except Exception:  # noqa: BLE001 - the process ends anyway
            pass
        return 0

    return asyncio.run(serve())


if __name__ == "__main__":
    sys.exit(main())
