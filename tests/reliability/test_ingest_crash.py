"""Losing nothing, with real processes: ``foreshock run`` killed (SIGKILL) while the telemetry store is
down and it spools, its spool then torn as by a power loss; the broker restarted with messages in
flight; one message delivered twice; two services sharing the load, one of them killed.

Each counts what is in the store against what was published at QoS 1 (see docs/reliability.md).
"""

from __future__ import annotations

import json
import signal
import struct
import uuid
from pathlib import Path

import pytest

from devices import protocol
from foreshock.broker import free_port
from foreshock.settings import load_settings
from foreshock.tsdb.influx1 import Influx1Store
from tests.ingest.conftest import wait_until
from tests.reliability.test_process_faults import DEVICES, Service, _config, _publish, settled_count
from tests.servers import start_broker
from tests.tsdb_servers import InfluxdServer, VictoriaMetricsServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class _Store:
    """The influxd of a test, counted per device over ``[t0, t0 + total)``.

    A message counts once its ``load`` is stored. influxd 1.x shows a point's fields to a query one by
    one while the point is being written: a query during a burst saw rows with ``temperature_c`` and no
    ``load`` yet (1 query in ~575 in a loop beside a writer), and reading ``fields["load"]`` of every row
    failed the test now and then with ``KeyError: 'load'``. Only the ``load`` field is asked for."""

    def __init__(self, cfg: Path, t0: int, total: int) -> None:
        self.store = Influx1Store.from_settings(load_settings(cfg).telemetry)
        self.t0, self.total = t0, total

    def loads(self) -> list[int]:
        try:
            rows = [r for d in DEVICES
                    for r in self.store.query("telemetry", d, self.t0, self.t0 + self.total, ["load"])]
        except Exception:  # noqa: BLE001 - down, or the database does not exist before the first write
            return []
        return sorted(int(r.fields["load"]) for r in rows)

    def count(self) -> int:
        return len(self.loads())


def _spooled_bytes(spool: Path) -> int:
    return sum(p.stat().st_size for p in spool.glob("seg-*.spool"))


def test_sigkill_while_spooling_and_a_torn_spool_then_restart_loses_nothing(mosquitto, publisher, tmp_path):
    """The store is down: the service spools and acknowledges. SIGKILL in the middle of a burst, then
    half a record appended to the spool (what a power loss during an append leaves), more published
    while nothing runs. Restarted with the store up: the spool is replayed past the torn record and
    the broker redelivers what was not acknowledged: every message once."""
    port = free_port()
    (tmp_path / "influxd").mkdir()
    server = InfluxdServer(workdir=tmp_path / "influxd", port=port)
    db = f"spoolkill_{uuid.uuid4().hex[:8]}"
    cfg = _config(tmp_path, mosquitto, server, db)  # the store's URL: nothing listens there yet
    cfg.write_text(cfg.read_text().replace("flush_interval_s = 0.1", "flush_interval_s = 0.1\nmax_retries = 0\n"
                                           "max_retry_time_s = 0.5\ntimeout_s = 1\nbatch_size = 100"))
    spool = tmp_path / "data" / "spool"
    t0 = protocol.now_ms() - 3_600_000
    total = 3000
    first = Service(cfg, tmp_path / "run1.log")
    try:
        def spooling() -> bool:  # published until the service has subscribed and spools
            first.check_running()
            _publish(publisher, t0, range(1), wait=True)
            return _spooled_bytes(spool) > 0

        wait_until(spooling, 60, what="the service to subscribe and spool a first message")
        _publish(publisher, t0, range(1, 2000), wait=False)  # the kill lands while the burst is spooled
        wait_until(first.running(lambda: _spooled_bytes(spool) > 20_000), 60, what="part of the burst spooled")
        first.proc.send_signal(signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
    finally:
        first.kill()
    segments = sorted(spool.glob("seg-*.spool"))
    assert segments
    with open(segments[-1], "ab") as fh:  # a power loss in the middle of the next append
        fh.write(struct.pack(">II", 5000, 0) + b'[["telemetry",{"device":"K-0')
    _publish(publisher, t0, range(2000, total), wait=True)  # published while no one is subscribed

    server.start()
    store = _Store(cfg, t0, total)
    second = Service(cfg, tmp_path / "run2.log")
    try:
        wait_until(second.running(lambda: store.count() >= total), 120, what=f"all {total} messages after the restart")
        second.proc.send_signal(signal.SIGTERM)
        assert second.wait(60) == 0
    finally:
        second.kill()
        try:
            assert store.loads() == list(range(total))  # each once: none lost, none doubled
            assert not list(spool.glob("seg-*.spool"))  # replayed, and the torn record did not block it
            (torn,) = (spool / "corrupt").iterdir()  # moved aside, with the error in the log
            assert torn.name.startswith(segments[-1].stem) and "corrupt or torn bytes" in (
                tmp_path / "run2.log").read_text()
            assert "Traceback" not in (tmp_path / "run2.log").read_text()
        finally:
            store.store.close()
            server.stop()


class _GatedStore:
    """The embedded store, whose writes wait until the test opens the gate: messages stay in flight."""

    def __init__(self, store) -> None:
        import threading

        self.store = store
        self.gate = threading.Event()

    def write(self, points) -> None:
        self.gate.wait(60)
        self.store.write(points)

    def ping(self) -> None:
        self.store.ping()


def test_broker_restart_with_messages_in_flight_stores_each_once_and_leaves_nothing_unacknowledged(tmp_path):
    """Mosquitto (persistence on) restarted while hundreds of delivered messages wait unacknowledged in
    ingest's queue. The broker redelivers them to the resumed session (the store gets some twice, one
    point each); the acknowledgements of the old connection's messages reach the broker: a new session
    under the same client id gets nothing of them back."""
    from foreshock.db import make_engine, migrate, session_factory
    from foreshock.tsdb.embedded import EmbeddedStore
    from ingest.deadletter import DeadLetterStore
    from ingest.service import IngestService
    from tests.ingest.conftest import Publisher

    broker = start_broker(workdir=tmp_path / "mqtt")
    engine = make_engine(f"sqlite:///{tmp_path / 'rel.db'}")
    migrate(engine)
    store = EmbeddedStore(tmp_path / "t.db")
    settings = load_settings(
        data_dir=tmp_path,
        mqtt={"url": broker.url, "client_id": f"inflight-{uuid.uuid4().hex[:6]}", "reconnect_min_s": 0.5,
              "reconnect_max_s": 1.0},
        telemetry={"batch_size": 20, "flush_interval_s": 0.05},
    )

    gated = _GatedStore(store)

    def service() -> IngestService:
        s = IngestService(settings, gated, DeadLetterStore(session_factory(engine)), device_check=None)
        s.start()
        assert s.source.wait_connected(60)
        return s

    t0 = protocol.now_ms() - 60_000
    total = 1000
    first = service()
    pub = Publisher(broker)
    try:
        _publish(pub, t0, range(600), wait=True)  # the broker has them all; the first write waits at the gate
        wait_until(lambda: len(first._queue) + first.metrics.get("received") >= 600, 30,
                   what="all 600 delivered to ingest, none acknowledged")
        pub.close()
        broker.restart()
        assert first.metrics.get("acked") == 0  # all 600 of the old connection were in flight
        wait_until(lambda: first.connected, 30, what="ingest to reconnect")
        gated.gate.set()
        pub = Publisher(broker)
        _publish(pub, t0, range(600, total), wait=True)
        stored = lambda: sum(len(store.query("telemetry", d, t0, t0 + total)) for d in DEVICES)  # noqa: E731
        wait_until(lambda: stored() == total, 60, what=f"all {total} messages")
        first.stop(10)
        assert first.metrics.get("received") >= total  # some twice (redelivered after the restart) ...
        rows = [r for d in DEVICES for r in store.query("telemetry", d, t0, t0 + total)]
        assert sorted(int(r.fields["load"]) for r in rows) == list(range(total))  # ... stored once

        second = service()  # the same client id: the session, with whatever was left unacknowledged
        try:
            _publish(pub, t0, range(total, total + 1), wait=True)
            wait_until(lambda: second.metrics.get("acked") >= 1, 30, what="the marker message")
            assert second.metrics.get("received") == 1  # nothing before it: every message was acknowledged
        finally:
            second.stop(5)
    finally:
        pub.close()
        first.stop(2)
        store.close()
        broker.cleanup()
        engine.dispose()


def test_two_services_sharing_the_load_one_killed_lose_nothing(mosquitto, influxd, publisher, tmp_path):
    """Two ``foreshock run`` with their own client ids in one shared group (``mqtt.shared_group``) write
    to one influxd. One is killed (SIGKILL) mid-stream; the other goes on. What the broker had handed
    to the killed one stays in its session until it returns (MQTT 3.1.1 does not hand it to the other
    member): restarted, every message is stored once."""
    db = f"shared_{uuid.uuid4().hex[:8]}"
    cfgs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        cfg = _config(tmp_path / name, mosquitto, influxd, db)
        cfg.write_text(cfg.read_text().replace("[telemetry]", 'shared_group = "ingest"\n[telemetry]'))
        cfgs.append(cfg)
    t0 = protocol.now_ms() - 3_600_000
    total = 3000
    store = _Store(cfgs[0], t0, total)
    a, b = (Service(cfg, cfg.parent / "run1.log") for cfg in cfgs)
    try:
        def both_store() -> bool:  # published until both have subscribed and each stored some
            a.check_running()
            b.check_running()
            _publish(publisher, t0, range(20), wait=True)
            logs = [(c.parent / "run1.log").read_text() for c in cfgs]
            return store.count() == 20 and all("ingesting from" in text for text in logs)

        wait_until(both_store, 60, what="both services to subscribe and store")
        _publish(publisher, t0, range(20, 2000), wait=False)
        wait_until(b.running(lambda: store.count() >= 300), 60, what="part of the burst stored")
        a.proc.send_signal(signal.SIGKILL)
        assert a.wait(10) == -signal.SIGKILL
        _publish(publisher, t0, range(2000, total), wait=True)
        stored = settled_count(store.count, "the surviving service to settle")  # b has written what it was given
        held = total - stored
        print(f"one of two killed: {stored} of {total} stored, {held} held in the killed one's session")
        assert held > 0  # not failed over to the other member: they wait for the killed one's return
        a = Service(cfgs[0], cfgs[0].parent / "run2.log")
        wait_until(a.running(lambda: store.count() >= total), 120, what=f"all {total} messages after the restart")
        assert store.loads() == list(range(total))  # each once
    finally:
        a.kill()
        b.kill()
        store.store.close()


def test_the_count_waits_for_a_point_s_load(mosquitto, influxd, tmp_path):
    """What a query can see while influxd writes a point (its fields one by one): ``temperature_c`` and
    no ``load`` yet. The count of :class:`_Store` leaves such a point out until its ``load`` is there."""
    from foreshock.tsdb.base import Point

    cfg = _config(tmp_path, mosquitto, influxd, f"partial_{uuid.uuid4().hex[:8]}")
    t0 = protocol.now_ms() - 3_600_000
    store = _Store(cfg, t0, 10)
    try:
        store.store.write([Point("telemetry", {"device": DEVICES[0]}, {"load": 0.0, "temperature_c": 40.0}, t0),
                           Point("telemetry", {"device": DEVICES[1]}, {"temperature_c": 41.0}, t0 + 1)])
        assert store.loads() == [0]
        store.store.write([Point("telemetry", {"device": DEVICES[1]}, {"load": 1.0}, t0 + 1)])  # the rest of it
        assert store.loads() == [0, 1]
    finally:
        store.store.close()


class DedupVM(VictoriaMetricsServer):
    """victoria-metrics as a Foreshock store should run: one sample per series and millisecond."""

    def _spawn(self, argv: list[str], name: str, timeout_s: float = 60.0) -> None:
        super()._spawn([*argv, "-dedup.minScrapeInterval=1ms"], name, timeout_s)


def _vm_samples(url: str, device: str) -> list[int]:
    import httpx

    httpx.get(f"{url}/internal/force_flush").raise_for_status()
    resp = httpx.get(f"{url}/api/v1/export", params={"match[]": f'{{device="{device}"}}'})
    resp.raise_for_status()
    return [ts for line in resp.text.splitlines() for ts in json.loads(line)["timestamps"]]


def test_a_message_delivered_twice_is_one_point_in_each_store(mosquitto, publisher, influxd, victoria_metrics,
                                                             tmp_path):
    """A redelivered message (the broker resends what was not acknowledged before a crash) is written
    again: one point in the embedded store and in InfluxDB (keyed by measurement, tags and time).
    victoria-metrics keeps both samples unless started with ``-dedup.minScrapeInterval=1ms``."""
    from foreshock.db import make_engine, migrate, session_factory
    from foreshock.tsdb import open_store
    from ingest.deadletter import DeadLetterStore
    from ingest.service import IngestService
    from tests.reliability.conftest import ingest_settings

    (tmp_path / "vm").mkdir()
    dedup_vm = DedupVM(workdir=tmp_path / "vm").start()
    engine = make_engine(f"sqlite:///{tmp_path / 'rel.db'}")
    migrate(engine)
    backends = {
        "embedded": {"backend": "embedded"},
        "influx1": {"backend": "influx1", "url": influxd.url, "database": f"dup_{uuid.uuid4().hex[:8]}"},
        "vm": {"backend": "influx2", "url": victoria_metrics.url, "token": "unused", "bucket": "b"},
        "vm_dedup": {"backend": "influx2", "url": dedup_vm.url, "token": "unused", "bucket": "b"},
    }
    services = {}
    try:
        for name, telemetry in backends.items():
            settings = ingest_settings(mosquitto, tmp_path / name, f"dup-{name}",
                                       {**telemetry, "flush_interval_s": 0.05})
            store = open_store(settings)
            services[name] = IngestService(settings, store, DeadLetterStore(session_factory(engine)),
                                           device_check=None)
            services[name].start()
            assert services[name].source.wait_connected(60)
        device = f"D-{uuid.uuid4().hex[:6]}"
        t0 = protocol.now_ms() - 60_000
        payload = protocol.telemetry_payload(t0, 7, {"load": 7.0})
        for copy in (1, 2):
            publisher.publish(protocol.topic(device, "telemetry"), payload)
            written = lambda n=copy: all(s.metrics.get("points_written") >= n  # noqa: E731
                                         for s in services.values())
            wait_until(written, 30, what="each service to write the message")
        counts = {name: len(s.store.query("telemetry", device, t0, t0 + 1)) for name, s in services.items()
                  if name in ("embedded", "influx1")}
        for name, url, expected in (("vm", victoria_metrics.url, 2), ("vm_dedup", dedup_vm.url, 1)):
            shown = lambda u=url, n=expected: len(_vm_samples(u, device)) >= n  # noqa: E731
            wait_until(shown, 20, what=f"{name} to show the samples")
            counts[name] = len(_vm_samples(url, device))
        assert counts == {"embedded": 1, "influx1": 1, "vm": 2, "vm_dedup": 1}
    finally:
        for s in services.values():
            s.stop(5)
            s.store.close()
        dedup_vm.stop()
        engine.dispose()


def test_victoria_metrics_stopped_and_started_while_data_flows_loses_nothing(mosquitto, publisher, tmp_path):
    """The influx2 backend on victoria-metrics: stopped while units publish (spooled, acknowledged),
    started again on the same port and data (replayed in order): every message once."""
    from foreshock.db import make_engine, migrate, session_factory
    from foreshock.tsdb import open_store
    from ingest.deadletter import DeadLetterStore
    from ingest.service import IngestService
    from tests.reliability.conftest import ingest_settings

    (tmp_path / "vm").mkdir()
    vm = DedupVM(workdir=tmp_path / "vm", port=free_port())
    engine = make_engine(f"sqlite:///{tmp_path / 'rel.db'}")
    migrate(engine)
    settings = ingest_settings(
        mosquitto, tmp_path, "vm",
        {"backend": "influx2", "url": f"http://127.0.0.1:{vm.port}", "token": "unused", "bucket": "b",
         "flush_interval_s": 0.05, "max_retries": 0, "max_retry_time_s": 0.5, "timeout_s": 1},
    )
    service = IngestService(settings, open_store(settings), DeadLetterStore(session_factory(engine)),
                            device_check=None, probe_interval_s=0.2)
    device = f"V-{uuid.uuid4().hex[:6]}"
    t0 = protocol.now_ms() - 60_000

    def send(seqs: range) -> None:
        for i in seqs:
            payload = protocol.telemetry_payload(t0 + i, i, {"load": i})
            publisher.publish(protocol.topic(device, "telemetry"), payload)

    vm.start()
    service.start()
    try:
        assert service.source.wait_connected(60)
        # Retained messages of other tests' units come first on subscribing: once this unit's first
        # message is in the store, the counters below count only this test's messages.
        publisher.publish(protocol.topic(device, "telemetry"), protocol.telemetry_payload(t0 - 1, 0, {"load": -1}))
        wait_until(lambda: _vm_samples(vm.url, device) == [t0 - 1], 30, what="the first message stored")
        base = {k: service.metrics.get(k) for k in ("points_written", "points_spooled", "points_replayed")}
        done = lambda k, n: service.metrics.get(k) - base[k] >= n  # noqa: E731
        send(range(0, 50))
        wait_until(lambda: done("points_written", 50), 30, what="50 written")
        vm.stop()
        send(range(50, 100))
        wait_until(lambda: done("points_spooled", 50), 30, what="50 spooled while it is down")
        vm.start()
        wait_until(lambda: service.metrics.snapshot()["store_up"], 30, what="the store seen again, spool replayed")
        send(range(100, 150))
        wait_until(lambda: done("points_written", 100), 60, what="the rest, written directly")
        assert service.metrics.get("points_replayed") - base["points_replayed"] == 50
        wait_until(lambda: len(_vm_samples(vm.url, device)) >= 151, 20, what="victoria-metrics to show 150")
        assert _vm_samples(vm.url, device) == [t0 + i for i in range(-1, 150)]  # each once, in time order
    finally:
        service.stop(5)
        service.store.close()
        vm.stop()
        engine.dispose()


def test_acknowledgements_of_an_old_connection_do_not_acknowledge_new_messages(tmp_path):
    """Mosquitto restarted without its session (persistence off, or a crash since its last autosave)
    while ingest holds 20 delivered messages. After the reconnect the broker numbers new messages from
    1 again. Ingest once acknowledged the old ones with their old packet ids, which then named the new
    messages: the broker dropped them before they were written, and with ingest killed then they were
    lost (a new session got only the marker, not the 5 new messages). Only messages of the current
    connection are acknowledged now."""
    import threading

    from foreshock.db import make_engine, migrate, session_factory
    from foreshock.tsdb.embedded import EmbeddedStore
    from ingest.deadletter import DeadLetterStore
    from ingest.service import IngestService
    from tests.ingest.conftest import Publisher

    broker = start_broker(workdir=tmp_path / "mqtt", persistence=False)
    engine = make_engine(f"sqlite:///{tmp_path / 'rel.db'}")
    migrate(engine)
    store = EmbeddedStore(tmp_path / "t.db")
    tokens, done = threading.Semaphore(0), threading.Event()

    class OneWriteAtATime:
        def write(self, points) -> None:
            while not tokens.acquire(timeout=0.1):
                if done.is_set():
                    raise RuntimeError("the test is over")
            store.write(points)

        def ping(self) -> None:
            pass

    settings = load_settings(
        data_dir=tmp_path,
        mqtt={"url": broker.url, "client_id": f"stale-{uuid.uuid4().hex[:6]}", "reconnect_min_s": 0.5,
              "reconnect_max_s": 1.0},
        telemetry={"batch_size": 1000, "flush_interval_s": 0.05},
    )

    def service(target) -> IngestService:
        s = IngestService(settings, target, DeadLetterStore(session_factory(engine)), device_check=None)
        s.start()
        assert s.source.wait_connected(60)
        return s

    t0 = protocol.now_ms() - 60_000

    def send(pub, device: str, n: int) -> None:
        for i in range(n):
            pub.publish(protocol.topic(device, "telemetry"), protocol.telemetry_payload(t0 + i, i, {"load": i}))

    first = service(OneWriteAtATime())
    second = None
    pub = Publisher(broker)
    try:
        send(pub, "OLD-1", 20)
        wait_until(lambda: first.metrics.get("received") + len(first._queue) >= 20, 10, what="20 delivered")
        pub.close()
        broker.restart()  # the session and its in-flight messages are forgotten
        wait_until(lambda: first.connected, 30, what="ingest to reconnect")
        pub = Publisher(broker)
        send(pub, "NEW-1", 5)
        wait_until(lambda: first.metrics.get("received") + len(first._queue) >= 25, 10, what="5 new delivered")
        tokens.release()  # one write: the first batch of old messages, then acknowledged
        wait_until(lambda: first.metrics.get("acked") >= 1, 10, what="the first batch acknowledged")
        first.stop(0.5)  # the worker is stuck in its next write: as good as killed for the new messages
        assert store.query("telemetry", "NEW-1", t0, t0 + 5) == []  # not written
        second = service(store)
        send(pub, "MARK-1", 1)
        # the marker comes after the redelivered messages: once it is stored, all of them were received (waiting
        # for a first acknowledgement was not enough: a first batch of 3 was acknowledged before the rest came)
        wait_until(lambda: store.query("telemetry", "MARK-1", t0, t0 + 1) != [], 30, what="the marker stored")
        assert second.metrics.get("received") == 6  # the 5 new messages, redelivered, then the marker
        assert len(store.query("telemetry", "NEW-1", t0, t0 + 5)) == 5
        assert first.metrics.get("acks_of_old_connections_skipped") >= 1
    finally:
        done.set()
        pub.close()
        first.stop(1)
        if second is not None:
            second.stop(2)
        store.close()
        broker.cleanup()
        engine.dispose()
