"""Dead letters on SQLite and PostgreSQL, through the ingest migration branch."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from foreshock.db import make_engine, migrate, session_factory
from ingest.deadletter import DeadLetterStore, NewDeadLetter


@pytest.fixture
def store(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    yield DeadLetterStore(session_factory(engine), payload_bytes=16)
    engine.dispose()


def test_migration_creates_the_table(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    migrate(engine)  # idempotent
    assert "ingest_dead_letters" in inspect(engine).get_table_names()
    engine.dispose()


def test_add_list_filter_page_and_count(store):
    store.add_many([
        NewDeadLetter("bad_json", "foreshock/v1/P-1/telemetry", b"{" * 40, 1_700_000_000.0 + i, "P-1", "not JSON")
        for i in range(5)
    ])
    store.add(reason="unknown_device", topic="foreshock/v1/P-9/telemetry", payload=b"{}", received_at=1_700_000_010.0,
              device_id="P-9", detail="device 'P-9' is not registered")
    store.add(reason="bad_topic", topic="x/y", payload=b"\xff\x00", received_at=1_700_000_011.0)
    rows, total = store.list()
    assert total == 7 and rows[0].reason == "bad_topic" and rows[0].device_id is None
    rows, total = store.list(device="P-1", limit=2, offset=1)
    assert total == 5 and [r.received_at.timestamp() for r in rows] == [1_700_000_003.0, 1_700_000_002.0]
    assert rows[0].payload == b"{" * 16 and rows[0].payload_size == 40  # truncated, size kept
    rows, total = store.list(reason="unknown_device")
    assert total == 1 and rows[0].detail == "device 'P-9' is not registered"
    assert rows[0].to_dict()["payload"] == "{}"
    assert store.count_by_reason() == {"bad_json": 5, "unknown_device": 1, "bad_topic": 1}


def test_bad_arguments_are_named(store):
    with pytest.raises(ValueError, match="unknown dead-letter reason 'nope'"):
        store.add(reason="nope", topic="t", payload=b"", received_at=0.0)
    with pytest.raises(ValueError, match="limit"):
        store.list(limit=0)
    with pytest.raises(ValueError, match="offset"):
        store.list(offset=-1)


def test_payload_bound_from_settings(tmp_path):
    from foreshock.settings import load_settings

    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    migrate(engine)
    store = DeadLetterStore.from_settings(session_factory(engine),
                                          load_settings(ingest={"dead_letter_payload_bytes": 3}))
    store.add(reason="schema", topic="t", payload=b"abcdef", received_at=0.0)
    rows, _ = store.list()
    assert rows[0].payload == b"abc" and rows[0].payload_size == 6
    engine.dispose()


def test_dead_letters_older_than_the_retention_are_deleted_in_chunks(db_url):
    """The table only grew (a unit sending a bad message a second adds 86,400 rows a day); now the
    service deletes what is older than ingest.dead_letter_retention_d (30 days; 0 keeps everything).
    The clock is set before the other tests' rows (2023), which share the PostgreSQL database."""
    from datetime import UTC, datetime

    engine = make_engine(db_url)
    migrate(engine)
    day, t_now = 86_400.0, 1_600_000_000.0
    now = datetime.fromtimestamp(t_now, UTC)
    store = DeadLetterStore(session_factory(engine), retention_d=30)
    store.add_many([NewDeadLetter("schema", "foreshock/v1/RET-1/telemetry", b"{}", t_now - age * day, "RET-1",
                                  f"{age} days old") for age in (0, 1, 29.9, 30.1, 31, 90, 365)])
    assert DeadLetterStore(session_factory(engine), retention_d=0).prune(now) == 0  # kept for ever
    assert store.prune(now, chunk=2) == 4  # two full chunks, then nothing left
    rows, total = store.list(device="RET-1")
    assert total == 3 and sorted(r.detail for r in rows) == ["0 days old", "1 days old", "29.9 days old"]
    assert store.prune(now) == 0
    engine.dispose()


def test_a_server_clock_jumping_forward_past_the_retention_does_not_delete_every_dead_letter(db_url, caplog,
                                                                                         monkeypatch):
    """Found in the hostile-operations walk-through: prune counted the age on the wall clock, so a
    server clock stepping 60 days forward while the service ran (an NTP step, a restored VM) deleted
    every dead letter at once. Prune now holds the clock to where it would be without the jump, and
    says so. The clock starts at the real time, so that the other tests' rows (which share the
    PostgreSQL database, all recent) are not pruned; this test's rows are removed at the end."""
    import logging
    import time
    from datetime import datetime

    from sqlalchemy import delete

    import ingest.deadletter as deadletter_mod
    from ingest.models import DeadLetter

    engine = make_engine(db_url)
    migrate(engine)
    day, t_now = 86_400.0, time.time()
    clock = {"wall": t_now, "mono": 1_000.0}
    monkeypatch.setattr(deadletter_mod, "time", type("Clock", (), {
        "time": staticmethod(lambda: clock["wall"]), "monotonic": staticmethod(lambda: clock["mono"])}))

    class WallClock(datetime):  # the module's datetime.now() shows the same (jumping) wall clock
        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(clock["wall"], tz)

    monkeypatch.setattr(deadletter_mod, "datetime", WallClock)
    store = DeadLetterStore(session_factory(engine), retention_d=30)
    store.add_many([NewDeadLetter("schema", "foreshock/v1/JUMP-1/telemetry", b"{}", t_now - age * day, "JUMP-1",
                                  f"{age} days old") for age in (0, 1, 29.9, 30.1, 90)])
    caplog.set_level(logging.WARNING, logger="ingest.deadletter")
    try:
        store.prune()  # the retention itself: older than 30 days
        kept = ["0 days old", "1 days old", "29.9 days old"]
        assert sorted(r.detail for r in store.list(device="JUMP-1")[0]) == kept
        clock["wall"], clock["mono"] = t_now + 60 * day + 3_600, 1_000.0 + 3_600  # an hour on: the clock jumped 60 days
        store.prune()
        assert sorted(r.detail for r in store.list(device="JUMP-1")[0]) == kept
        (line,) = [r.getMessage() for r in caplog.records]
        assert "jumped 60.0 days forward" in line and "timedatectl" in line
        caplog.clear()
        clock["wall"], clock["mono"] = clock["wall"] + 3_600, clock["mono"] + 3_600
        store.prune()
        assert caplog.records == [] and store.list(device="JUMP-1")[1] == 3  # said once; nothing more deleted
        clock["mono"] += 1.5 * day  # a day and a half later by the held clock: 29.9 days + 1.5 > 30
        store.prune()
        assert sorted(r.detail for r in store.list(device="JUMP-1")[0]) == ["0 days old", "1 days old"]
    finally:
        with session_factory(engine)() as session, session.begin():
            session.execute(delete(DeadLetter).where(DeadLetter.device_id == "JUMP-1"))
        engine.dispose()
