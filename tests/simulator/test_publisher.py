"""Publishing through a real Mosquitto (per-unit credentials, the device ACL), replay, files, the CLI."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict

import numpy as np
import paho.mqtt.client as mqtt
import pytest

from devices.protocol import parse_message
from foreshock.broker import MosquittoBroker
from foreshock.cli import main
from foreshock.datasets import read_run, read_series, write_run
from simulator.files import write_fleet_files
from simulator.fleet import load_fleet
from simulator.mqttpool import PublishError
from simulator.publisher import FleetPublisher
from simulator.replay import replay_dataset
from tests.servers import DEVICE_ACL, PLATFORM_PASSWORD, PLATFORM_USER

pytestmark = pytest.mark.integration

H = 3_600_000
UNITS = ["P-0001", "P-0002", "F-0001"]
FLEET = {
    "seed": 9,
    "credentials": {"username": "{unit_id}", "password": "pw-{unit_id}"},
    "snapshot_interval": "5m",
    "models": {"P-RUN": {"base": "P-1800", "run_fraction": 1.0}},
    "units": [
        {"id": "P-0001", "model": "P-RUN"},
        {
            "id": "P-0002",
            "model": "P-RUN",
            "fault": {"kind": "outer_race", "onset": "20m", "failure": "1h"},
            "sensor_faults": [{"kind": "dropout", "start": "10m", "end": "20m"}],
        },
        {"id": "F-0001", "model": "F-3000"},
    ],
}


@pytest.fixture(scope="module")
def device_broker(tmp_path_factory):
    """Mosquitto where each unit has its own password and may publish only under its own id."""
    users = {PLATFORM_USER: PLATFORM_PASSWORD, **{u: f"pw-{u}" for u in UNITS}, "REPLAY-1": "pw-replay"}
    broker = MosquittoBroker(workdir=tmp_path_factory.mktemp("mq"), users=users, acl=DEVICE_ACL)
    broker.start()
    yield broker
    broker.cleanup()


WAIT_S = 60.0  # generous bound on waiting for the broker (a loaded CI machine); never a speed assertion


class Subscriber:
    """The platform's subscription to every unit topic, in place (acknowledged) when the constructor
    returns: a fixed 0.3 s wait lost the first messages when the broker answered later."""

    def __init__(self, broker: MosquittoBroker) -> None:
        self.got: list[tuple[str, bytes, float, bool]] = []
        subscribed = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"platform-{time.monotonic_ns()}"
        )
        self.client.username_pw_set(PLATFORM_USER, PLATFORM_PASSWORD)
        self.client.on_message = lambda c, u, m: self.got.append((m.topic, m.payload, time.time(), m.retain))
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.connect(broker.host, broker.port)
        self.client.subscribe("foreshock/v1/#", qos=1)
        self.client.loop_start()
        assert subscribed.wait(WAIT_S), "the broker did not acknowledge the subscription"

    def stop(self, settle_s: float = 0.5, until=None) -> list:
        """What arrived, once ``until(got)`` holds (waited for up to :data:`WAIT_S`) and ``settle_s`` more
        have passed (for anything unexpected to arrive too)."""
        deadline = time.monotonic() + WAIT_S
        while until is not None and not until(list(self.got)) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(settle_s)
        self.client.loop_stop()
        self.client.disconnect()
        return self.got


def _live(got: list) -> list:
    """The messages published while subscribed (not the retained ones of earlier tests)."""
    return [m for m in got if not m[3]]


def test_accelerated_fleet_arrives_as_published_and_matches_the_truth(device_broker):
    fleet = load_fleet(FLEET)
    sub = Subscriber(device_broker)
    seen: list[dict] = []
    connecting: list[dict] = []
    pub = FleetPublisher(
        fleet, device_broker.url, speed=1800.0, progress=seen.append, progress_interval_s=0.5,
        connect_progress=connecting.append,
    )
    truth = pub.run(3.0, threading.Event())  # 1.5 simulated hours
    sent = pub.stats["messages"]

    def all_arrived(got: list) -> bool:  # every data message and each unit's last status (offline)
        live = _live(got)
        data = [m for m in live if not m[0].endswith("/status")]
        offline = {m[0] for m in live if m[0].endswith("/status") and b"offline" in m[1]}
        return len(data) >= sent and len(offline) >= len(UNITS)

    got = _live(sub.stop(until=all_arrived))

    per_unit: dict[str, list] = defaultdict(list)
    statuses: dict[str, list[str]] = defaultdict(list)
    for topic_name, payload, received, _ in got:
        msg = parse_message(topic_name, payload, received_at=received)  # every message is valid protocol
        if msg.kind == "status":
            statuses[msg.device_id].append(msg.status.state)
        else:
            per_unit[msg.device_id].append(msg)
    assert set(per_unit) == set(UNITS)
    assert all(s[0] == "online" and s[-1] == "offline" for s in statuses.values())
    received = sum(len(v) for v in per_unit.values())
    assert received == pub.stats["messages"] > 1500  # QoS 1: everything sent arrived
    assert seen and seen[-1]["units_connected"] == 3
    assert connecting and connecting[-1] == {"connecting": 3, "of": 3}  # the connect phase reports too
    assert all("sim_ms" in s for s in seen)  # and does not mix into the publishing progress

    # Timestamps cover the simulated span and never lie in the future.
    start, end = truth.start_ms, truth.end_ms
    assert end - start == pytest.approx(1.5 * H, abs=60_000)
    stamps = [r.ts_ms for m in per_unit["P-0001"] if m.kind == "telemetry" for r in m.records]
    assert min(stamps) >= start and max(stamps) <= time.time() * 1000

    # Ground truth matches what was published: the dropout, the failure and what follows it.
    p2 = truth.unit("P-0002")
    assert (p2["fault"], p2["onset_ms"], p2["failure_ms"]) == ("outer_race", start + 20 * 60_000, start + H)
    drop = p2["sensor_faults"][0]
    ts2 = [m.records[0].ts_ms if m.kind == "telemetry" else m.snapshot.ts_ms for m in per_unit["P-0002"]]
    assert not [t for t in ts2 if drop["start_ms"] <= t < drop["end_ms"]]
    snaps = [m.snapshot for m in per_unit["P-0002"] if m.kind == "vibration"]
    assert snaps and max(s.ts_ms for s in snaps) < p2["failure_ms"]
    after = [
        m.records[0].values["speed_rpm"]
        for m in per_unit["P-0002"]
        if m.kind == "telemetry" and m.records[0].ts_ms >= p2["failure_ms"]
    ]
    assert after and set(after) == {0.0}
    last = max(snaps, key=lambda s: s.ts_ms).samples.astype(np.float64)
    first = min(snaps, key=lambda s: s.ts_ms).samples.astype(np.float64)
    kurt = [float(np.mean(((x - x.mean()) / x.std()) ** 4)) for x in (first, last)]
    assert kurt[0] < 4 < kurt[1]  # healthy before onset, impacting near failure

    # One seq counter per unit over its telemetry and snapshots, as the device protocol asks (the stream
    # numbered each kind on its own, and the platform counts messages lost from gaps in the counter):
    # 0, 1, 2, ... without a gap; a dropout sends nothing and takes no number
    for unit_id, msgs in per_unit.items():
        seqs = [m.records[0].seq if m.kind == "telemetry" else m.snapshot.seq for m in msgs]
        assert sorted(seqs) == list(range(len(seqs))), unit_id


def test_wrong_credentials_are_refused_naming_the_unit(device_broker):
    fleet = load_fleet(
        {"units": [{"id": "P-0001", "model": "P-1800", "username": "P-0001", "password": "wrong"}]}
    )
    with pytest.raises(PublishError, match=r"P-0001: Not authorized"):
        FleetPublisher(fleet, device_broker.url, speed=100.0).run(1.0, threading.Event())


def test_replay_a_run_as_a_device(device_broker, tmp_path):
    x = np.random.default_rng(0).normal(0, 0.1, (5, 2560))
    path = write_run(tmp_path / "r", x, [0, 10, 20, 30, 40], fs=25600, rpm=1800)
    sub = Subscriber(device_broker)
    stats = replay_dataset(
        path, device_broker.url, "REPLAY-1", speed=100.0, username="REPLAY-1", password="pw-replay"
    )
    arrived = sub.stop(until=lambda got: sum(m[0].endswith("/vibration") for m in got) >= 5)
    got = [parse_message(t, p, received_at=r) for t, p, r, _ in arrived if t.endswith("/vibration")]
    assert stats["messages"] == 5 and len(got) == 5
    np.testing.assert_allclose(got[2].snapshot.samples, x[2].astype(np.float16), atol=1e-6)
    assert [g.snapshot.ts_ms - got[0].snapshot.ts_ms for g in got] == [0, 10_000, 20_000, 30_000, 40_000]


def test_files_hold_the_same_data_and_the_truth(tmp_path):
    fleet = load_fleet(FLEET)
    start = 1_700_000_000_000
    truth = write_fleet_files(fleet, tmp_path, start_ms=start, duration_s=1.5 * 3600)
    run = read_run(tmp_path / "P-0002")
    assert run.failure_t == 3600.0 and run.failure_mode == "outer_race"
    assert run.t.max() < 3600 and run.x.shape[1] == fleet.units[1].model.sensor.n
    assert {e["kind"] for e in run.events} == {"onset", "failure", "sensor_fault"}
    temp = read_series(tmp_path / "P-0001_temperature_c.csv")
    assert len(temp.values) == 540 and temp.meta["unit"] == "degC"
    speed = read_series(tmp_path / "P-0002_speed_rpm.csv")
    assert speed.failure_ms == start + H and np.all(speed.values[speed.t_ms >= start + H] == 0)
    on_disk = json.loads((tmp_path / "truth.json").read_text())
    assert on_disk == truth.to_dict() and on_disk["units"][1]["failure_ms"] == start + H


def test_cli_refuses_a_bad_fleet_and_publishes_nothing(tmp_path, device_broker, capsys, monkeypatch):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[units]]\nid = "P-0001"\nmodel = "P-1800"\n'
        'fault = { kind = "outer_race", onset = "3h", failure = "1h" }\n'
    )
    monkeypatch.setenv("FORESHOCK_MQTT__URL", device_broker.url)
    sub = Subscriber(device_broker)
    assert main(["simulate", str(bad), "--speed", "100", "--duration", "1h"]) == 2
    assert "units[0].fault: onset (10800 s) must be before failure (3600 s)" in capsys.readouterr().err
    assert [m for m in sub.stop(0.3) if not m[3]] == []  # retained: earlier tests' presence


def test_cli_writes_files_and_truth(tmp_path):
    good = tmp_path / "fleet.toml"
    good.write_text(
        'seed = 4\n[[units]]\nid = "G-0001"\nmodel = "G-300"\n'
        'fault = { kind = "looseness", onset = "10m", ttf = "30m" }\n'
    )
    assert (
        main(
            [
                "simulate",
                str(good),
                "--out",
                str(tmp_path / "out"),
                "--duration",
                "1h",
                "--quiet",
                "--start",
                "2026-01-01T00:00:00Z",
            ]
        )
        == 0
    )
    truth = json.loads((tmp_path / "out" / "truth.json").read_text())
    assert truth["seed"] == 4 and truth["start_ms"] == 1767225600000
    assert truth["units"][0]["failure_ms"] == 1767225600000 + 40 * 60_000
    assert read_run(tmp_path / "out" / "G-0001").failure_t == 2400.0
