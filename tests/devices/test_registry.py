"""Registry CRUD, validation, machine data and the is_known cache, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest

from detectors.types import BearingGeometry, MachineInfo
from devices.errors import AlreadyExists, InvalidInput, NotFound
from devices.query import UnitFilter
from devices.registry import Registry
from foreshock.db import session_factory


def test_model_round_trip_and_machine_info(registry, model):
    assert registry.get_model("P-200").bearing == {"n_balls": 9, "ball_d": 7.94, "pitch_d": 39.04, "contact_deg": 0.0}
    registry.create_unit("P-0001", model="P-200")
    info = registry.machine_info("P-0001")
    assert info == MachineInfo(
        rated_rpm=1480.0, bearing=BearingGeometry(9, 7.94, 39.04, 0.0), iso_group=2,
        foundation="rigid", zone_limits_mm_s=(2.3, 4.5, 7.1),
    )
    assert registry.detector_config("P-0001") == {"warmup": 50}
    assert registry.machine_info("nobody") is None


def test_unit_without_model_has_no_machine_info(registry):
    registry.create_unit("P-0002")
    assert registry.machine_info("P-0002") is None
    assert registry.detector_config("P-0002") == {}


def test_create_read_update_decommission(registry, model):
    unit = registry.create_unit(
        "P-0001", model="P-200", customer="ACME", site="Plant 1", install_date="2025-01-15",
        firmware="1.2.0", warranty_end=date(2027, 1, 15), batch="B-2024-11", tags=["pilot", "pilot", "north"],
    )
    assert (unit.model_name, unit.customer, unit.install_date, unit.tags) == (
        "P-200", "ACME", date(2025, 1, 15), ["pilot", "north"])
    assert not unit.auto_registered and unit.presence == "unknown"

    updated = registry.update_unit("P-0001", customer="Beta GmbH", tags=["north"], model=None)
    assert (updated.customer, updated.tags, updated.model_name, updated.site) == ("Beta GmbH", ["north"], None, "Plant 1")
    assert registry.get_unit("P-0001").customer == "Beta GmbH"

    gone = registry.decommission("P-0001")
    assert gone.decommissioned_at is not None and not gone.active
    assert registry.list_units() == []
    assert [u.device_id for u in registry.list_units(include_decommissioned=True)] == ["P-0001"]
    assert registry.decommission("P-0001").decommissioned_at == gone.decommissioned_at  # idempotent
    # registering the serial again: lists hide the unit, so the refusal says why the serial is taken
    with pytest.raises(AlreadyExists, match=rf"unit 'P-0001' is already registered: it was decommissioned on "
                                            rf"{gone.decommissioned_at:%Y-%m-%d} and a serial number is never reused"):
        registry.create_unit("P-0001")


def test_duplicates_and_missing_are_clear_errors(registry, model):
    registry.create_unit("P-0001")
    with pytest.raises(AlreadyExists, match="P-0001"):
        registry.create_unit("P-0001")
    with pytest.raises(AlreadyExists, match="P-200"):
        registry.create_model("P-200")
    with pytest.raises(NotFound, match="P-9999"):
        registry.update_unit("P-9999", customer="x")
    with pytest.raises(NotFound, match="no machine model named 'X-1'"):
        registry.update_model("X-1", rated_rpm=100)
    with pytest.raises(NotFound):
        registry.require_unit("P-9999")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"model": "NOPE"}, "model"),
        ({"install_date": "2025-02-30"}, "install_date"),
        ({"install_date": "2025-01-01", "warranty_end": "2024-01-01"}, "warranty_end"),
        ({"tags": ["ok", "not ok"]}, "tags"),
        ({"colour": "red"}, "colour"),
        ({"firmware": "x" * 65}, "firmware"),
    ],
)
def test_bad_unit_fields_name_the_field(registry, model, fields, field):
    with pytest.raises(InvalidInput) as err:
        registry.create_unit("P-0001", **fields)
    assert err.value.field == field
    assert registry.get_unit("P-0001") is None


@pytest.mark.parametrize("device_id", ["", "-lead", "has space", "a/b", "x" * 65, "wild+card"])
def test_bad_device_id(registry, device_id):
    with pytest.raises(InvalidInput, match="device_id"):
        registry.create_unit(device_id)


def test_update_warranty_checked_against_stored_install_date(registry):
    registry.create_unit("P-0001", install_date="2025-06-01")
    with pytest.raises(InvalidInput) as err:
        registry.update_unit("P-0001", warranty_end="2025-01-01")
    assert err.value.field == "warranty_end"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"bearing": {"n_balls": 9, "ball_d": 40.0, "pitch_d": 39.0}}, "bearing.ball_d"),
        ({"bearing": {"n_balls": 2, "ball_d": 7.0, "pitch_d": 39.0}}, "bearing.n_balls"),
        ({"bearing": {"n_balls": 30, "ball_d": 10.0, "pitch_d": 50.0}}, "bearing.n_balls"),
        ({"bearing": {"n_balls": 9, "ball_d": 7.0, "pitch_d": 39.0, "contact_deg": 95}}, "bearing.contact_deg"),
        ({"bearing": {"n_balls": 9, "ball_d": -1, "pitch_d": 39.0}}, "bearing.ball_d"),
        ({"bearing": {"n_balls": 9, "pitch_d": 39.0}}, "bearing.ball_d"),
        ({"rated_rpm": 0}, "rated_rpm"),
        ({"iso_group": 5}, "iso_group"),
        ({"foundation": "soft"}, "foundation"),
        ({"zone_limits_mm_s": [4.5, 2.3, 7.1]}, "zone_limits_mm_s"),
        ({"reporting_interval_s": 0}, "reporting_interval_s"),
        ({"detector_config": {"x": float("nan")}}, "detector_config"),
    ],
)
def test_impossible_model_data_names_the_field(registry, fields, field):
    with pytest.raises(InvalidInput) as err:
        registry.create_model("M-1", **fields)
    assert err.value.field == field
    assert registry.get_model("M-1") is None


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"warmpu": 50}, "unknown detector setting(s) warmpu (did you mean warmup?); known: warmup,"),
        ({"speed_tolerance": 5}, "speed_tolerance must be in (0, 1), got 5"),
        ({"warmup": "fifty"}, "warmup: expected a whole number, got 'fifty'"),
        ({"alpha": True}, "alpha: expected a number, got True"),
        ({"context_keys": "ambient_c"}, "context_keys: expected a list of names"),
        # the detectors took any name: every snapshot was then of an "other axis", stored and never assessed
        ({"axis": "X"}, "axis must be one of x, y, z, h, v (the device protocol's axes)"),
        ({"axis": "radial"}, "axis must be one of x, y, z, h, v"),
        # was "must be JSON-serialisable: Out of range float values are not JSON compliant", no setting named
        ({"alarm_ratio": float("nan")}, "alarm_ratio must be a finite number, got nan"),
        ({"alarm_ratio": float("inf")}, "alarm_ratio must be a finite number, got inf"),
    ],
)
def test_detector_settings_the_detectors_would_refuse_are_refused_up_front(registry, model, config, problem):
    # the detection stage only logs a warning and runs on the defaults when a setting is bad
    with pytest.raises(InvalidInput) as err:
        registry.update_model("P-200", detector_config=config)
    assert err.value.field == "detector_config"
    assert problem in str(err.value)
    assert registry.get_model("P-200").detector_config == {"warmup": 50}  # unchanged
    registry.update_model("P-200", detector_config={"warmup": 40, "alpha": 0.2, "context_keys": ["ambient_c"]})
    assert registry.get_model("P-200").detector_config["warmup"] == 40


def test_the_protocol_axes_and_none_are_accepted_as_the_followed_axis(registry, model):
    for axis in ("x", "y", "z", "h", "v", ""):
        registry.update_model("P-200", detector_config={"axis": axis})
        assert registry.get_model("P-200").detector_config == {"axis": axis}


def test_update_model_changes_machine_info(registry, model):
    registry.create_unit("P-0001", model="P-200")
    assert registry.machine_info("P-0001").rated_rpm == 1480.0
    registry.update_model("P-200", rated_rpm=2950, bearing=None)
    info = registry.machine_info("P-0001")
    assert (info.rated_rpm, info.bearing) == (2950.0, None)
    with pytest.raises(InvalidInput, match="reporting_interval_s: cannot be cleared"):
        registry.update_model("P-200", reporting_interval_s=None)


def test_auto_register(registry):
    registry.auto_register("X-1")
    unit = registry.get_unit("X-1")
    assert unit.auto_registered and unit.model is None
    assert registry.is_known("X-1")
    registry.auto_register("X-1")  # idempotent
    assert registry.count_units() == 1
    registry.decommission("X-1")
    registry.auto_register("X-1")  # a decommissioned unit stays out of service
    assert not registry.is_known("X-1")
    with pytest.raises(InvalidInput):
        registry.auto_register("bad id")


def test_list_filters_and_serial_range(registry, model):
    for i in (7, 98, 99, 100, 120, 121):
        registry.create_unit(
            f"P-{i:04d}", model="P-200" if i % 2 == 0 else None, customer="ACME" if i < 100 else "Beta",
            batch="B1" if i < 100 else "B2", tags=["even"] if i % 2 == 0 else [],
        )
    registry.create_unit("Q-0100")
    def ids(**kw):
        return [u.device_id for u in registry.list_units(**kw)]

    assert ids(customer="ACME") == ["P-0007", "P-0098", "P-0099"]
    assert ids(model="P-200") == ["P-0098", "P-0100", "P-0120"]
    assert ids(batch="B2", tag="even") == ["P-0100", "P-0120"]
    assert ids(serial_from="P-98", serial_to="P-120") == ["P-0098", "P-0099", "P-0100", "P-0120"]
    assert ids(serial_from="P-0098", serial_to="P-0120", limit=2, offset=1) == ["P-0099", "P-0100"]
    assert ids(limit=2, offset=6) == ["Q-0100"]
    assert registry.count_units(UnitFilter(customer="Beta")) == 3
    assert registry.count_units(tag="even") == 3
    with pytest.raises(InvalidInput, match="serial_to"):
        UnitFilter(serial_from="P-1", serial_to="Q-9")
    with pytest.raises(InvalidInput, match="presence"):
        UnitFilter(presence="asleep")


def test_is_known_is_cached_and_invalidated_by_changes(registry):
    assert not registry.is_known("P-0001")
    loads = registry.cache_loads
    for _ in range(1000):
        registry.is_known("P-0001")
    assert registry.cache_loads == loads  # answered from memory
    registry.create_unit("P-0001")
    assert registry.is_known("P-0001")
    registry.decommission("P-0001")
    assert not registry.is_known("P-0001")
    assert registry.cache_loads == loads + 2


def test_changes_by_another_process_seen_after_ttl_or_invalidate(engine):
    factory = session_factory(engine)
    reader = Registry(factory, cache_ttl_s=3600)
    writer = Registry(factory)
    reader.MISS_RECHECK_S = 3600.0  # the cached set alone answers: a miss is not looked up again
    assert not reader.is_known("P-0001")
    writer.create_unit("P-0001")
    assert not reader.is_known("P-0001")  # stale until the TTL, the miss recheck or an explicit invalidate
    reader.invalidate()
    assert reader.is_known("P-0001")

    short = Registry(factory, cache_ttl_s=1e-9)  # every lookup is past the TTL
    assert short.is_known("P-0001")
    writer.decommission("P-0001")
    assert not short.is_known("P-0001")


def test_a_unit_registered_by_another_process_is_accepted_without_waiting_for_the_ttl(engine):
    # `foreshock devices add` while `foreshock run` is running: the unit's first messages were
    # dead-lettered as unknown_device for up to cache_ttl_s (30 s)
    from sqlalchemy import event

    factory = session_factory(engine)
    reader = Registry(factory, cache_ttl_s=3600)
    writer = Registry(factory)
    assert not reader.is_known("P-0001")
    writer.create_unit("P-0001")
    assert not reader.is_known("P-0001")  # a miss is looked up again at most every MISS_RECHECK_S
    reader.MISS_RECHECK_S = 0.0
    assert reader.is_known("P-0001")
    loads = reader.cache_loads
    assert reader.is_known("P-0001") and reader.cache_loads == loads + 1  # the whole set was reloaded once
    writer.create_unit("P-0002")
    writer.decommission("P-0002")
    assert not reader.is_known("P-0002")  # out of service is not accepted

    statements: list[str] = []

    def count(conn, cursor, statement, *rest) -> None:
        statements.append(statement)

    reader.MISS_RECHECK_S = 3600.0
    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(1000):  # a unit nobody registered, sending fast
            assert not reader.is_known("X-0001")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1  # one lookup, then the miss is remembered


def test_machine_info_cache_invalidated_by_model_change(registry, model):
    registry.create_unit("P-0001", model="P-200")
    first = registry.machine_info("P-0001")
    assert registry.machine_info("P-0001") is first  # cached
    registry.update_model("P-200", iso_group=1)
    assert registry.machine_info("P-0001").iso_group == 1


def test_constructor_validates(engine):
    with pytest.raises(ValueError, match="silent_after_intervals"):
        Registry(session_factory(engine), silent_after_intervals=0)
    with pytest.raises(ValueError, match="cache_ttl_s"):
        Registry(session_factory(engine), cache_ttl_s=0)


def test_migrate_is_idempotent_and_matches_the_models(engine):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from foreshock.db import Base, migrate

    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert [d for d in diff if "device_" in str(d)] == []


def test_a_change_racing_with_a_reload_is_not_cached(engine):
    """A write that lands while the id set is being read must not leave the stale set cached for the TTL."""
    factory = session_factory(engine)
    writer = Registry(factory)
    reader = Registry(factory, cache_ttl_s=3600)
    raced = []

    class RacingSession:
        def __init__(self) -> None:
            self.inner = factory()

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.inner.close()

        def scalars(self, stmt):
            ids = list(self.inner.scalars(stmt))  # the read happens first ...
            if not raced:
                raced.append(True)
                writer.create_unit("P-0001")  # ... then a change lands and is announced
                reader.invalidate()
            return ids

    reader._recheck_miss = lambda device_id: False  # type: ignore[method-assign]  # the cached set alone
    reader.session_factory = RacingSession  # type: ignore[assignment]
    assert not reader.is_known("P-0001")  # this answer came from the read before the change
    reader.session_factory = factory
    assert reader.is_known("P-0001")  # but it was not cached: the next lookup reloads


def test_an_unknown_model_field_lists_the_expected_ones_and_where_a_bearing_field_goes(registry):
    with pytest.raises(InvalidInput) as err:
        registry.create_model("M-1", rated_rpm=1480, n_balls=9)
    message = str(err.value)
    assert message.startswith("n_balls: unknown field (it belongs in the bearing table: bearing.n_balls)")
    assert "expected one of " in message and "rated_rpm" in message and "bearing" in message
    with pytest.raises(InvalidInput, match=r"bearing\.bd: unknown field; expected one of n_balls, ball_d, pitch_d"):
        registry.create_model("M-1", bearing={"n_balls": 9, "ball_d": 7.94, "pitch_d": 39.04, "bd": 1})
    assert registry.get_model("M-1") is None


@pytest.mark.parametrize("field, value, problem", [
    ("firmware", "2.4\x001", "firmware: control character U+0000 at position 3"),
    ("firmware", "2.4\t1", "firmware: control character U+0009 at position 3"),
    ("customer", "AC\x00ME", "customer: NUL character at position 2"),
    ("site", "\x00", "site: NUL character at position 0"),
    ("batch", "B\x00", "batch: NUL character at position 1"),
])
def test_text_a_unit_cannot_hold_is_refused_by_name_on_every_database(registry, field, value, problem):
    """A NUL in a unit's firmware, customer, site or batch was stored on SQLite and made PostgreSQL raise
    (the API answered 500); the firmware a unit reports in its status is refused for any control
    character, and the registry now applies the same rule to the firmware given by the CLI, API or CSV."""
    with pytest.raises(InvalidInput) as info:
        registry.create_unit("P-0001", **{field: value})
    assert str(info.value).startswith(problem)
    registry.create_unit("P-0001")
    with pytest.raises(InvalidInput) as info:
        registry.update_unit("P-0001", **{field: value})
    assert str(info.value).startswith(problem)
    assert getattr(registry.get_unit("P-0001"), field) is None


@pytest.mark.parametrize("field", ["firmware", "batch", "customer", "site"])
@pytest.mark.parametrize("value", ["", "  "])
def test_empty_text_is_refused_not_recorded_as_a_value(registry, field, value):
    """`foreshock devices update P-0001 --firmware ''` recorded '' as the unit's firmware: fleet surges and
    reports group by firmware and batch, so '' made a group of its own beside the units without one
    (the protocol refuses `"firmware": ""` in a status for this reason). Clearing is a null (`--clear`)."""
    with pytest.raises(InvalidInput) as info:
        registry.create_unit("P-0001", **{field: value})
    assert str(info.value).startswith(f"{field}: empty: leave it out when unknown")
    registry.create_unit("P-0001", **{field: "x"})
    with pytest.raises(InvalidInput):
        registry.update_unit("P-0001", **{field: value})
    assert getattr(registry.get_unit("P-0001"), field) == "x"
    registry.update_unit("P-0001", **{field: None})
    assert getattr(registry.get_unit("P-0001"), field) is None


def test_a_model_created_at_the_same_moment_by_another_writer_is_already_exists(registry, monkeypatch):
    """Two `foreshock devices models add` of one name at once: both look before either writes, and
    the database's unique index refuses the second. It said so with an IntegrityError traceback; it
    is the same AlreadyExists as when the model was there before (here the look is made to miss)."""
    import sqlalchemy.orm

    registry.create_model("M-RACE", rated_rpm=1480)
    real_scalar = sqlalchemy.orm.Session.scalar
    monkeypatch.setattr(sqlalchemy.orm.Session, "scalar", lambda self, stmt, *a, **k: None)  # the look misses
    with pytest.raises(AlreadyExists, match="machine model 'M-RACE' already exists"):
        registry.create_model("M-RACE", rated_rpm=1780)
    monkeypatch.setattr(sqlalchemy.orm.Session, "scalar", real_scalar)
    assert [m.name for m in registry.list_models()].count("M-RACE") == 1
    assert registry.get_model("M-RACE").rated_rpm == 1480  # the first one kept as it was
