"""Fleet files: what they describe, and refusals that name the field."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from simulator.fleet import demo_fleet, load_fleet, parse_duration
from simulator.models import CATALOGUE, FleetError

FLEET_TOML = """
seed = 42
duration = "2d"
credentials = { username = "{unit_id}", password = "pw-{unit_id}" }

[models.P-1800-SLOW]
base = "P-1800"
rated_rpm = 1500
bearing = { n_balls = 9, ball_d = 7.94, pitch_d = 39.04, contact_deg = 0 }

[[units]]
id = "P-0001"
model = "P-1800"
batch = "A"
fault = { kind = "outer_race", onset = "6h", failure = "40h" }
sensor_faults = [{ kind = "dropout", start = "10h", end = "11h" }]

[[units]]
id = "S-0001"
model = "P-1800-SLOW"
fault = { kind = "imbalance", onset = "1d", ttf = "12h", growth = 2 }

[[groups]]
prefix = "F-"
count = 5
model = "F-3000"
batch = "W07"
"""


def test_fleet_file_describes_units_models_faults_and_credentials(tmp_path):
    path = tmp_path / "fleet.toml"
    path.write_text(FLEET_TOML)
    fleet = load_fleet(path)
    assert fleet.seed == 42 and fleet.duration_s == 172800
    assert [u.unit_id for u in fleet.units] == [
        "P-0001",
        "S-0001",
        "F-0001",
        "F-0002",
        "F-0003",
        "F-0004",
        "F-0005",
    ]
    p = fleet.unit("P-0001")
    assert (p.fault.kind, p.fault.onset_ms, p.fault.failure_ms) == ("outer_race", 6 * 3600_000, 40 * 3600_000)
    assert p.sensor_faults[0].kind == "dropout" and p.batch == "A"
    assert (p.username, p.password) == ("P-0001", "pw-P-0001")
    s = fleet.unit("S-0001")
    assert s.model.rated_rpm == 1500 and s.model.resonance_hz == CATALOGUE["P-1800"].resonance_hz
    assert s.fault.failure_ms == 36 * 3600_000
    assert fleet.unit("F-0003").model.name == "F-3000" and fleet.unit("F-0003").fault is None


def test_units_vary_a_little_like_manufactured_units():
    fleet = load_fleet({"groups": [{"prefix": "P-", "count": 50, "model": "P-1800"}]})
    speeds = [u.variation.speed for u in fleet.units]
    resonances = [u.variation.resonance for u in fleet.units]
    assert len(set(speeds)) == 50 and max(abs(s - 1) for s in speeds) < 0.02
    assert 0.85 < min(resonances) and max(resonances) < 1.15 and len(set(resonances)) == 50


def test_weak_bearing_lot_fails_more_often():
    fleet = load_fleet(
        {
            "seed": 3,
            "groups": [
                {
                    "prefix": "GOOD-",
                    "count": 200,
                    "model": "P-1800",
                    "batch": "good",
                    "fault_probability": 0.05,
                },
                {
                    "prefix": "WEAK-",
                    "count": 200,
                    "model": "P-1800",
                    "batch": "weak",
                    "fault_probability": 0.5,
                },
            ],
        }
    )
    good = [u for u in fleet.units if u.batch == "good" and u.fault]
    weak = [u for u in fleet.units if u.batch == "weak" and u.fault]
    assert len(weak) > 4 * len(good) > 0
    assert {u.fault.kind for u in weak} <= {"outer_race", "inner_race", "ball"}
    assert all(u.fault.onset_ms < u.fault.failure_ms for u in weak)


def test_the_seed_decides_the_random_faults():
    spec = {"groups": [{"prefix": "P-", "count": 100, "model": "P-1800", "fault_probability": 0.3}]}
    a, b, c = load_fleet(spec, seed=1), load_fleet(spec, seed=1), load_fleet(spec, seed=2)
    faults = [[u.fault for u in f.units] for f in (a, b, c)]
    assert faults[0] == faults[1] != faults[2]


def test_demo_fleet_has_an_outer_race_failure_and_an_imbalance():
    fleet = demo_fleet()
    faulty = {u.unit_id: u.fault for u in fleet.units if u.fault}
    assert {f.kind for f in faulty.values()} == {"outer_race", "imbalance"}
    outer = next(f for f in faulty.values() if f.kind == "outer_race")
    assert 2 * 3600_000 <= outer.onset_ms <= 8 * 3600_000 and outer.failure_ms <= 48 * 3600_000
    assert len({u.model.name for u in fleet.units}) == 3
    model = fleet.units[0].model.to_dict()
    assert {"name", "rated_rpm", "bearing", "iso_group", "resonance_hz", "snapshot"} <= set(model)
    assert {"n_balls", "ball_d", "pitch_d", "contact_deg"} <= set(model["bearing"])


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"units": [{"id": "X-1", "model": "Nope"}]}, "units[0].model: unknown model 'Nope'"),
        (
            {
                "models": {"M": {"base": "P-1800", "bearing": {"n_balls": 9, "ball_d": 40, "pitch_d": 39}}},
                "units": [{"id": "X-1", "model": "M"}],
            },
            "models.M: bearing: ball_d (40) must be smaller than pitch_d (39)",
        ),
        (
            {
                "models": {"M": {"base": "P-1800", "bearing": {"n_balls": 30, "ball_d": 8, "pitch_d": 39}}},
                "units": [{"id": "X-1", "model": "M"}],
            },
            "models.M: bearing: 30 balls of 8 mm do not fit",
        ),
        (
            {
                "units": [
                    {
                        "id": "X-1",
                        "model": "P-1800",
                        "fault": {"kind": "outer_race", "onset": "2d", "failure": "1d"},
                    }
                ]
            },
            "units[0].fault: onset (172800 s) must be before failure (86400 s)",
        ),
        (
            {"units": [{"id": "X-1", "model": "P-1800", "fault": {"kind": "rust", "onset": 0, "ttf": 10}}]},
            "units[0].fault.kind: unknown fault 'rust'",
        ),
        ({"units": [{"id": "X-1", "model": "P-1800", "colour": "red"}]}, "units[0]: unknown field(s) colour"),
        ({"units": [{"id": "X 1", "model": "P-1800"}]}, "units[0].id: 'X 1' is not a valid device id"),
        (
            {"units": [{"id": "X-1", "model": "P-1800"}, {"id": "X-1", "model": "F-3000"}]},
            "units[1].id: duplicate unit id 'X-1'",
        ),
        (
            {"duration": "two days", "units": [{"id": "X-1", "model": "P-1800"}]},
            "duration: expected a duration",
        ),
        (
            {
                "units": [
                    {
                        "id": "X-1",
                        "model": "P-1800",
                        "sensor_faults": [{"kind": "clock_skew", "start": 0, "end": 10, "skew_s": 900}],
                    }
                ]
            },
            "units[0].sensor_faults[0]: sensor_fault clock_skew: skew_s 900.0 s would be rejected",
        ),
        (
            {
                "units": [
                    {
                        "id": "X-1",
                        "model": "P-1800",
                        "sensor_faults": [{"kind": "gremlins", "start": 0, "end": 10}],
                    }
                ]
            },
            "units[0].sensor_faults[0]: sensor_fault: unknown kind 'gremlins'",
        ),
        (
            {
                "models": {"M": {"base": "G-300", "resonance_hz": 4000}},
                "units": [{"id": "X-1", "model": "M"}],
            },
            "models.M: model 'M': resonance_hz (4000) must be below the sensor's Nyquist frequency (2560 Hz)",
        ),
        (
            {"models": {"M": {"base": "P-1800", "iso_group": 7}}, "units": [{"id": "X-1", "model": "M"}]},
            "models.M: iso_group/foundation: no ISO 20816-3 table for group 7",
        ),
        (
            {"groups": [{"prefix": "P-", "count": 0, "model": "P-1800"}]},
            "groups[0].count: expected an integer",
        ),
        ({}, "units: the fleet has no units"),
        # numbers TOML allows but no run can use: refused naming the field, not a traceback later
        ({"duration": float("nan"), "units": [{"id": "X-1", "model": "P-1800"}]}, "duration: expected a finite duration"),
        ({"duration": float("inf"), "units": [{"id": "X-1", "model": "P-1800"}]}, "duration: expected a finite duration"),
        ({"duration": "99999999d", "units": [{"id": "X-1", "model": "P-1800"}]}, "duration: '99999999d' is longer than"),
        ({"duration": 0, "units": [{"id": "X-1", "model": "P-1800"}]}, "duration: must be positive"),
        (
            {"units": [{"id": "X-1", "model": "P-1800", "fault": {"kind": "ball", "onset": float("nan"), "ttf": 10}}]},
            "units[0].fault.onset: expected a finite duration, got nan",
        ),
        (
            {"units": [{"id": "X-1", "model": "P-1800", "fault": {"kind": "ball", "onset": 0, "ttf": 10, "growth": "x"}}]},
            "units[0].fault.growth: expected a number in 0.1..20, got 'x'",
        ),
        (
            {"groups": [{"prefix": "P-", "count": 2, "model": "P-1800", "fault_probability": 1, "growth": "x"}]},
            "groups[0].growth: expected a number in 0.1..20, got 'x'",
        ),
        ({"groups": [{"prefix": "P-", "count": 2, "model": "P-1800", "start": "7"}]}, "groups[0].start: expected a non-negative integer"),
        (
            {"units": [{"id": "X-1", "model": "P-1800",
                        "sensor_faults": [{"kind": "spikes", "start": 0, "end": 10, "rate": "often"}]}]},
            "units[0].sensor_faults[0].rate: expected a number in 0..1000, got 'often'",
        ),
        (
            {"units": [{"id": "X-1", "model": "P-1800",
                        "sensor_faults": [{"kind": "spikes", "start": 0, "end": 10, "rate": 1e12}]}]},
            "units[0].sensor_faults[0].rate: expected a number in 0..1000",
        ),
        (
            {"units": [{"id": "X-1", "model": "P-1800",
                        "sensor_faults": [{"kind": "clock_skew", "start": 0, "end": 10, "skew_s": float("nan")}]}]},
            "units[0].sensor_faults[0].skew_s: expected a number",
        ),
    ],
)
def test_bad_fleets_are_refused_naming_the_field(doc, message):
    with pytest.raises(FleetError) as err:
        load_fleet(doc)
    assert message in str(err.value)


def test_bad_toml_file_names_the_file(tmp_path):
    path = tmp_path / "f.toml"
    path.write_text("units = [")
    with pytest.raises(FleetError, match=r"f\.toml is not valid TOML"):
        load_fleet(path)
    with pytest.raises(FleetError, match=r"missing\.toml does not exist"):
        load_fleet(tmp_path / "missing.toml")


def test_durations():
    assert parse_duration("90s", "x") == 90 and parse_duration("15m", "x") == 900
    assert parse_duration("2d", "x") == 172800 and parse_duration(1.5, "x") == 1.5
    with pytest.raises(FleetError, match="x: duration must not be negative"):
        parse_duration(-1, "x")
    for bad in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(FleetError, match="x: expected a finite duration"):
            parse_duration(bad, "x")
    with pytest.raises(FleetError, match="longer than the longest duration, 100 years"):
        parse_duration("36501d", "x")


def test_minimal_toml_from_the_docs_loads(tmp_path):
    path = tmp_path / "mini.toml"
    path.write_text(
        textwrap.dedent("""
        seed = 1
        [[units]]
        id = "P-1"
        model = "P-1800"
    """)
    )
    assert load_fleet(path).units[0].model.name == "P-1800"


@pytest.mark.parametrize("name", ["weak-lot", "mixed"])
def test_shipped_example_fleets_load(name):
    from pathlib import Path

    import simulator

    fleet = load_fleet(Path(simulator.__file__).parent / "fleets" / f"{name}.toml")
    assert fleet.units and any(u.fault for u in fleet.units)
    if name == "weak-lot":
        rate = {
            b: np.mean([u.fault is not None for u in fleet.units if u.batch == b])
            for b in ("2026-W30", "2026-W31")
        }
        assert rate["2026-W31"] > 3 * rate["2026-W30"]


def test_compound_durations():
    assert parse_duration("1d2h", "x") == 93600 and parse_duration("1m30s", "x") == 90
    with pytest.raises(FleetError, match="x: expected a duration"):
        parse_duration("2 weeks", "x")


def _model_fleet(**fields) -> dict:
    return {"models": {"X": {"base": "P-1800", **fields}}, "units": [{"id": "X-1", "model": "X"}]}


def _group_fleet(**fields) -> dict:
    return {"groups": [{"prefix": "F-", "count": 3, "model": "F-3000", **fields}]}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        # were tracebacks (TypeError deep in the dataclass checks or in numpy, after files were started)
        (_model_fleet(rated_rpm="fast"), "models.X.rated_rpm: expected a number, got 'fast'"),
        (_model_fleet(sensor={"fs": "fast"}), "models.X.sensor.fs: expected a number, got 'fast'"),
        (_model_fleet(sensor={"n": 1000.5}), "models.X.sensor.n: expected an integer, got 1000.5"),
        (_model_fleet(bearing="6205"), "models.X.bearing: expected a table, got str"),
        (_model_fleet(sensor=5), "models.X.sensor: expected a table, got int"),
        ({"units": [{"id": "X-1", "model": ["P-1800"]}]}, "units[0].model: expected a model name (a string)"),
        # were silently accepted: true ran a model at 1 rpm, a unit count of 1, a fault probability of 1
        (_model_fleet(rated_rpm=True), "models.X.rated_rpm: expected a number, got True"),
        (_group_fleet(count=True), "groups[0].count: expected an integer 1..1000000, got True"),
        (_group_fleet(fault_probability=True), "groups[0].fault_probability: expected a number in 0..1, got True"),
        ({"units": [{"id": "X-1", "model": "P-1800", "fault": {}}]}, "units[0].fault.kind: required"),
        # were refused with a misleading message (a string read letter by letter, a table taken for a list)
        (_group_fleet(fault_kinds="ball"), "groups[0].fault_kinds: expected a list like"),
        (_group_fleet(ttf="12h"), "groups[0].ttf: expected a range of two durations like [\"12h\", \"36h\"], got '12h'"),
        (_group_fleet(onset="2h"), "groups[0].onset: expected a range of two durations"),
        ({"groups": {"prefix": "F-", "count": 3, "model": "F-3000"}}, "groups: expected an array of tables ([[groups]])"),
        (_model_fleet(bearing={"n_balls": 9, "ball_d": 7.94}), "models.X.bearing: missing pitch_d"),
        ({"models": {"X": {"rated_rpm": 1500}}, "units": [{"id": "X-1", "model": "X"}]},
         "models.X: missing bearing, resonance_hz (a model without 'base' needs"),
    ],
)
def test_values_of_the_wrong_type_are_refused_naming_the_field(doc, message):
    with pytest.raises(FleetError) as err:
        load_fleet(doc)
    assert message in str(err.value)
    assert "models.X: models.X" not in str(err.value)


def test_a_fleet_file_that_is_a_folder_or_not_text_is_refused_naming_it(tmp_path):
    with pytest.raises(FleetError, match=r"is a folder; give a TOML file"):
        load_fleet(tmp_path)
    path = tmp_path / "f.toml"
    path.write_bytes(b"\xff\xfe seed = 1")
    with pytest.raises(FleetError, match=r"f\.toml is not UTF-8 text"):
        load_fleet(path)


def test_a_model_override_of_the_right_types_still_loads():
    fleet = load_fleet(_model_fleet(rated_rpm=1500, iso_group=1, sensor={"fs": 12800, "n": 4096},
                                    bearing={"n_balls": 8, "ball_d": 17.46, "pitch_d": 72.5}))
    model = fleet.units[0].model
    assert (model.rated_rpm, model.iso_group, model.sensor.n, model.bearing.n_balls) == (1500, 1, 4096, 8)


def test_a_sensor_override_changes_what_it_names_and_keeps_the_base_models_sensor_otherwise():
    """`sensor = { fs = 2560 }` on a G-300 variant gave a ±50 g, 0.01 g-noise sensor (the defaults), not
    the gearbox's ±16 g, 0.05 g one: a 'noisier' variant was quieter than its base."""
    from simulator.models import CATALOGUE

    base = CATALOGUE["G-300"].sensor
    fleet = load_fleet(_model_fleet(base="G-300", sensor={"fs": 2560}))
    sensor = fleet.units[0].model.sensor
    assert sensor.fs == 2560
    assert (sensor.range_g, sensor.noise_g, sensor.bits, sensor.n) == (base.range_g, base.noise_g, base.bits, base.n)
