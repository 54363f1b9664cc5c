"""Publishing progress: ``behind`` says how late the run is, not how long since the last message.

Found publishing a 3-unit fleet at ``--speed 1`` (telemetry every 10 s): the progress lines said
"behind 1.6 s", "2.6 s", ... "7.6 s" between two messages, and the sim clock stood still at the last
message's stamp, though every message went out on time: the run looked as if it could not keep up.

The broker is a stand-in and the clock is the stand-in's: it moves only while the publisher waits.
"""

from __future__ import annotations

from types import SimpleNamespace

import simulator.publisher
from simulator.fleet import load_fleet
from simulator.publisher import FleetPublisher


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


class _Pool:
    """What the publisher uses of a ClientPool; waiting (``service``) moves the clock."""

    def __init__(self, clock: _Clock) -> None:
        self.clock, self.connected, self.dropped, self.sent = clock, 0, 0, []

    def add(self, unit_id, **kwargs) -> None:
        self.connected += 1

    def connect_all(self, **kwargs) -> None:
        pass

    def publish(self, unit_id, topic, payload, qos=0, retain=False) -> bool:
        self.sent.append((self.clock.now, topic))
        return True

    def service(self, timeout_s: float) -> None:
        self.clock.now += timeout_s

    def flush(self, timeout_s: float) -> None:
        pass

    def close(self) -> None:
        pass


def test_waiting_for_the_next_message_is_not_behind(monkeypatch):
    clock = _Clock(1_800_000_000.0)
    pool = _Pool(clock)
    monkeypatch.setattr(simulator.publisher, "time", SimpleNamespace(time=clock.time))
    monkeypatch.setattr(simulator.publisher, "ClientPool", lambda *a, **k: pool)
    fleet = load_fleet({"seed": 1, "duration": "30s", "telemetry_interval": "10s", "snapshot_interval": "10m",
                        "units": [{"id": "P-1", "model": "P-1800"}]})
    seen = []
    pub = FleetPublisher(fleet, "mqtt://127.0.0.1:1", speed=1.0, start_ms=int(clock.now * 1000),
                         progress=seen.append)
    pub.run(30.0)
    assert len([t for t in pool.sent if t[1].endswith("/telemetry")]) >= 2
    during = seen[:-1]  # the last line is the run's end
    assert len(during) >= 20
    assert max(s["behind_s"] for s in during) == 0.0, [s["behind_s"] for s in during]
    clocks = [s["sim_ms"] for s in during]
    assert clocks == sorted(clocks) and len(set(clocks)) >= 20  # the sim clock moves every line, not per message
