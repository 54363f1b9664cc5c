"""The message stream: reproducible, protocol-valid, faults that grow, sensor faults that do not."""

from __future__ import annotations

import numpy as np
import pytest

from devices.protocol import parse_message, topic
from simulator.fleet import load_fleet
from simulator.scalars import UnitArrays, scalar_values
from simulator.stream import FleetStream

START = 1_700_000_000_000
H = 3_600_000


def fleet(units, seed=5, **top):
    """A fleet; model ``P-RUN`` is a pump that never stops (for checks that need it running)."""
    models = {"P-RUN": {"base": "P-1800", "run_fraction": 1.0}}
    return load_fleet({"seed": seed, "units": units, "models": models, **top})


def run(f, hours, start=START):
    return list(FleetStream(f, start).emissions(start + int(hours * H)))


def test_seed_reproduces_the_run_exactly_and_another_seed_does_not():
    units = [
        {"id": "P-1", "model": "P-1800", "fault": {"kind": "inner_race", "onset": "10m", "ttf": "2h"}},
        {"id": "G-1", "model": "G-300"},
    ]
    a, b, c = run(fleet(units), 1), run(fleet(units), 1), run(fleet(units, seed=6), 1)
    assert [e.payload() for e in a] == [e.payload() for e in b]
    assert [e.payload() for e in a] != [e.payload() for e in c]


def test_starting_later_gives_the_same_messages_as_the_tail():
    """Stateless physics: a publisher that starts mid-run sends what a full run sends from then on."""
    f = fleet([{"id": "P-1", "model": "P-1800"}, {"id": "F-1", "model": "F-3000"}])
    full = [e.payload() for e in run(f, 2)]
    tail = [e.payload() for e in FleetStream(f, START).emissions(START + 2 * H, from_ms=START + H)]
    assert tail and full[-len(tail) :] == tail


def test_messages_are_in_send_order_and_valid_protocol():
    f = fleet(
        [{"id": "P-1", "model": "P-1800"}, {"id": "F-1", "model": "F-3000"}, {"id": "G-1", "model": "G-300"}]
    )
    out = run(f, 1)
    assert [e.due_ms for e in out] == sorted(e.due_ms for e in out)
    kinds = {"telemetry": 0, "vibration": 0}
    for e in out:
        msg = parse_message(topic(e.unit.unit_id, e.kind), e.payload(), received_at=START / 1000 + 7200)
        kinds[msg.kind] += 1
        if msg.kind == "vibration":
            assert (
                msg.snapshot.samples.size == e.unit.model.sensor.n
                and msg.snapshot.fs == e.unit.model.sensor.fs
            )
    assert kinds["telemetry"] == 3 * 360 and 9 <= kinds["vibration"] <= 18


def by_unit(out, uid, kind):
    return [e for e in out if e.unit.unit_id == uid and e.kind == kind]


def test_fault_grows_until_failure_then_the_machine_is_stopped():
    f = fleet(
        [{"id": "P-1", "model": "P-RUN", "fault": {"kind": "imbalance", "onset": "2h", "failure": "8h"}}],
        snapshot_interval="30m",
    )
    out = run(f, 10)
    tel = by_unit(out, "P-1", "telemetry")
    fail = START + 8 * H
    running_v = [(e.ts_ms, e.values["velocity_mm_s"]) for e in tel if e.values["speed_rpm"] > 0]
    before = [v for t, v in running_v if t < START + 2 * H]
    late = [v for t, v in running_v if fail - 0.5 * H <= t < fail]
    zones = f.units[0].model.zones
    assert max(before) < zones[0] and np.mean(late) > zones[2] * 0.9
    after = [e.values for e in tel if e.ts_ms >= fail]
    assert after and all(v["speed_rpm"] == 0 and v["current_a"] == 0 for v in after)
    assert all(e.ts_ms < fail for e in by_unit(out, "P-1", "vibration"))


def test_lubrication_loss_heats_the_bearing_towards_its_failure_temperature():
    f = fleet(
        [
            {"id": "P-1", "model": "P-RUN", "fault": {"kind": "lubrication", "onset": "1h", "failure": "6h"}},
            {"id": "P-2", "model": "P-RUN"},
        ]
    )
    out = run(f, 6)

    def temp_near(uid, t):
        return np.mean(
            [
                e.values["temperature_c"]
                for e in by_unit(out, uid, "telemetry")
                if t - 0.25 * H <= e.ts_ms < t and e.values["speed_rpm"] > 0
            ]
            or [np.nan]
        )

    sick, well = temp_near("P-1", START + 6 * H), temp_near("P-2", START + 6 * H)
    assert sick - well > 25 and sick > f.units[0].model.fail_temp_c - 15


def test_current_follows_load_and_speed_follows_duty():
    f = fleet([{"id": "G-1", "model": "G-300"}], seed=11)
    tel = [e.values for e in by_unit(run(f, 48), "G-1", "telemetry")]
    speed = np.array([v["speed_rpm"] for v in tel])
    current = np.array([v["current_a"] for v in tel])
    assert (speed == 0).any() and (speed > 290).any()  # stops and runs
    running = (speed > 290) & (current < 100)  # not a start's inrush
    assert np.corrcoef(speed[running], current[running])[0, 1] < -0.5  # more load: more slip, more current
    ambient = np.array([v["ambient_c"] for v in tel])
    assert ambient.max() - ambient.min() > 6  # the day's cycle


def sensor_fault_run(kind, **params):
    f = fleet(
        [
            {
                "id": "P-1",
                "model": "P-RUN",
                "sensor_faults": [{"kind": kind, "start": "1h", "end": "2h", **params}],
            },
            {"id": "P-2", "model": "P-RUN"},
        ],
        snapshot_interval="5m",
    )
    return f, run(f, 3)


def in_window(e):
    return START + H <= e.due_ms < START + 2 * H


def test_dropout_sends_nothing_in_the_window():
    _, out = sensor_fault_run("dropout")
    assert not [e for e in out if e.unit.unit_id == "P-1" and in_window(e)]
    assert [e for e in out if e.unit.unit_id == "P-2" and in_window(e)]
    assert [e for e in out if e.unit.unit_id == "P-1" and e.due_ms >= START + 2 * H]


def test_duplicates_repeat_the_same_seq():
    _, out = sensor_fault_run("duplicate")
    tel = [(e.kind, e.seq, e.payload()) for e in out if e.unit.unit_id == "P-1" and in_window(e)]
    assert len(tel) == 2 * len(set(tel))


def test_clock_skew_shifts_timestamps_only_in_the_window():
    _, out = sensor_fault_run("clock_skew", skew_s=-600)
    skew = [e.ts_ms - e.due_ms for e in out if e.unit.unit_id == "P-1"]
    inside = [e.ts_ms - e.due_ms for e in out if e.unit.unit_id == "P-1" and in_window(e)]
    assert set(inside) == {-600_000} and skew.count(0) == len(skew) - len(inside)


def test_out_of_order_messages_arrive_after_later_ones():
    _, out = sensor_fault_run("out_of_order")
    ts = [e.ts_ms for e in out if e.unit.unit_id == "P-1" and e.kind == "telemetry"]
    assert any(b < a for a, b in zip(ts, ts[1:]))
    assert sorted(ts) == sorted(set(ts))  # nothing lost, nothing doubled


def test_stuck_values_repeat():
    _, out = sensor_fault_run("stuck")
    values = [
        tuple(e.values.values())
        for e in out
        if e.unit.unit_id == "P-1" and e.kind == "telemetry" and in_window(e)
    ]
    assert len(values) > 300 and len(set(values)) == 1
    snaps = [e.samples for e in out if e.unit.unit_id == "P-1" and e.kind == "vibration" and in_window(e)]
    assert snaps and all(np.ptp(s) == 0 for s in snaps)


def test_spikes_and_saturation_change_waveforms_not_the_machine():
    f, out = sensor_fault_run("spikes", size_g=30)
    snaps = [e.samples for e in out if e.unit.unit_id == "P-1" and e.kind == "vibration" and in_window(e)]
    assert snaps and all(np.abs(s).max() >= 29 for s in snaps)
    _, out = sensor_fault_run("saturation")
    snaps = [e.samples for e in out if e.unit.unit_id == "P-1" and e.kind == "vibration" and in_window(e)]
    rng = f.units[0].model.sensor.range_g
    assert snaps and all(np.mean(np.abs(s) >= rng * 0.99) > 0.01 for s in snaps)


def test_starts_ramp_up_with_an_inrush_current():
    f = fleet([{"id": "G-1", "model": "G-300"}], seed=11)
    p = UnitArrays(f.units, f.seed)
    rel = np.arange(0, 48 * H, 1000, dtype=np.float64)  # every second for two days
    v = scalar_values(p, rel, START + rel, np.arange(rel.size))
    starts = np.flatnonzero((v["speed_rpm"][:-1] == 0) & (v["speed_rpm"][1:] > 0)) + 1
    assert starts.size >= 1
    for i in starts:
        assert v["current_a"][i] > 4 * f.units[0].model.rated_current_a  # inrush
        assert v["speed_rpm"][i] < v["speed_rpm"][i + 20]  # still running up


@pytest.mark.parametrize("kind", ["spikes", "stuck", "saturation", "dropout", "clock_skew", "duplicate", "out_of_order"])
def test_a_unit_alone_sends_what_it_sends_in_its_fleet(kind):
    """Files are written unit by unit: that must not change a unit's data, whatever its sensor does
    (a stuck sensor on any unit but the first once failed here: it looked its values up by its
    index in the fleet file instead of its place in the one-unit stream)."""
    f = fleet(
        [
            {"id": "P-1", "model": "P-1800", "fault": {"kind": "ball", "onset": "5m", "ttf": "1h"}},
            {"id": "F-1", "model": "F-3000", "sensor_faults": [{"kind": kind, "start": "10m", "end": "40m"}]},
        ]
    )
    together = run(f, 1)
    for unit in f.units:
        alone = run(type(f)(f.seed, [unit], f.duration_s, f.telemetry_interval_s, f.snapshot_interval_s), 1)
        assert [e.payload() for e in alone] == [
            e.payload() for e in together if e.unit.unit_id == unit.unit_id
        ]


def test_out_of_order_holds_every_other_message_back_past_the_next_one():
    """docs/simulator.md describes what ``out_of_order`` does: each message with an even ``seq`` in
    the window is sent 1.5 of its kind's intervals late, so it arrives right after the unit's next
    one: about half of the window's records are overtaken, each by one message only (an earlier
    version delayed the whole window alike, and only its last record was overtaken)."""
    _, out = sensor_fault_run("out_of_order")
    mine = [e for e in out if e.unit.unit_id == "P-1"]
    for kind, interval_ms in (("telemetry", 10_000), ("vibration", 300_000)):
        seqs = [e.seq for e in mine if e.kind == kind]
        window = sum(1 for e in mine if e.kind == kind and in_window(e))
        overtaken = sum(b < a for a, b in zip(seqs, seqs[1:]))
        assert 0.4 * window <= overtaken <= 0.6 * window + 1, kind
        assert all(b >= a - 1 for a, b in zip(seqs, seqs[1:])), kind  # overtaken by one message at most
        late = [e for e in mine if e.kind == kind and e.due_ms != e.ts_ms]
        assert late and {e.due_ms - e.ts_ms for e in late} == {interval_ms * 3 // 2}
        assert all(e.seq % 2 == 0 for e in late), kind
