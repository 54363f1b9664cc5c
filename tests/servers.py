"""Real servers for the test suite: each started on a free port in a temporary directory.

Mosquitto comes from :mod:`foreshock.broker`. influxd (InfluxDB 1.x) and victoria-metrics are
added here by the ingest tests; PostgreSQL is an existing server (127.0.0.1:5432 by default,
``FORESHOCK_TEST_PG`` to change it) in which each test session creates its own database.
"""

from __future__ import annotations

import os
import uuid

import pytest

PLATFORM_USER = "foreshock"
PLATFORM_PASSWORD = "platform-secret"

# Devices may publish only below their own id and read only their own health topic.
DEVICE_ACL = f"""user {PLATFORM_USER}
topic readwrite foreshock/#
topic readwrite $SYS/#

pattern write foreshock/v1/%u/telemetry
pattern write foreshock/v1/%u/vibration
pattern write foreshock/v1/%u/status
pattern read foreshock/v1/%u/health
"""


def postgres_admin_url() -> str:
    return os.environ.get("FORESHOCK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def create_postgres_database() -> tuple[str, callable] | str:
    """Create a fresh database; returns (url, drop) or a reason string when no server is reachable."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'foreshock[postgres]')"
    admin = postgres_admin_url()
    dsn = admin.replace("postgresql+psycopg://", "postgresql://")
    name = f"foreshock_test_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=30) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001 - any failure means: no usable server
        return f"no PostgreSQL server reachable at {admin.split('@')[-1]}: {str(exc).splitlines()[0]}"

    def drop() -> None:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=30) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return admin.rsplit("/", 1)[0] + "/" + name, drop


# Bound on a test server's start-up: the suite runs on two loaded cores; a start returns as soon as the
# server is up, so a generous bound costs nothing when all is well.
START_TIMEOUT_S = 120.0


def distinct_free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` ports free now and different from each other: each is held while the next is chosen (ports
    chosen one after another, each released at once, may come out the same)."""
    import socket

    held = []
    try:
        for _ in range(n):
            s = socket.socket()
            held.append(s)
            s.bind((host, 0))
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


def start_broker(**options):
    """A started :class:`~foreshock.broker.MosquittoBroker`, on a free port unless ``port`` is given. The
    port is chosen free and bound by Mosquitto a moment later: another process may take it meanwhile (the
    suite and other jobs share the machine); ``start()`` then tries another free port itself."""
    from foreshock.broker import MosquittoBroker

    return MosquittoBroker(**options).start(timeout_s=START_TIMEOUT_S)


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory):
    """A Mosquitto broker with authentication and the device ACL; the platform user is `foreshock`."""
    from foreshock.broker import mosquitto_available

    if not mosquitto_available():
        pytest.fail("mosquitto is not installed: run `make test` as root, or apt-get install mosquitto")
    broker = start_broker(
        workdir=tmp_path_factory.mktemp("mosquitto"),
        users={PLATFORM_USER: PLATFORM_PASSWORD},
        acl=DEVICE_ACL,
    )
    yield broker
    broker.cleanup()


def fresh_postgres_database():
    """Yield the URL of a new PostgreSQL database and drop it afterwards; skip the test (with the reason) when
    none can be made. For a fixture: ``yield from fresh_postgres_database()``."""
    result = create_postgres_database()
    if isinstance(result, str):
        pytest.skip(result)
    url, drop = result
    yield url
    drop()


@pytest.fixture(scope="session")
def postgres_url():
    """A fresh PostgreSQL database URL, or the test is skipped with the reason."""
    yield from fresh_postgres_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """Run a test on both relational backends."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'foreshock.db'}"
    else:
        yield request.getfixturevalue("postgres_url")
