"""docs/deployment.md, done: the files under deploy/ it prints, and its steps against real servers.

The guide prints deploy/mosquitto/foreshock.conf, deploy/foreshock.toml.example,
deploy/foreshock.env.example, deploy/foreshock-admin, deploy/systemd/foreshock.service and
deploy/nginx/foreshock.conf; the first test checks it prints them as they are. The integration test
then follows the guide with those files, substituting only ports, paths, passwords and the test
PostgreSQL database: Mosquitto with Debian's stock mosquitto.conf layout and the guide's conf.d
file, TLS certificates made with the guide's openssl commands, influxd 1.x with authentication and
the guide's InfluxQL, the guide's step-6 commands through its foreshock-admin script, and the
unit's ExecStart (``foreshock --config ... run``) in a clean environment made from the environment
file. A unit publishes over TLS on the units' listener; its telemetry must reach InfluxDB, /readyz
must be ready, a unit provisioned while the service runs must connect after the broker's reload,
and a unit using the platform's client id on the units' listener must not take its session over.
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest

from devices import protocol
from foreshock.broker import _mosquitto_binary, mosquitto_available, wait_for_port
from tests.ingest.conftest import wait_until
from tests.servers import distinct_free_ports
from tests.tsdb_servers import InfluxdServer

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "deployment.md"
DEPLOY = ROOT / "deploy"
PRINTED = ["mosquitto/foreshock.conf", "foreshock.toml.example", "foreshock.env.example", "foreshock-admin",
           "systemd/foreshock.service", "nginx/foreshock.conf"]
WAIT_S = 30.0  # bound on waiting for servers and the service; never a speed assertion


def _blocks(text: str) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)


def _block_with(text: str, needle: str) -> str:
    found = [b for b in _blocks(text) if needle in b]
    assert found, f"the guide has no code block with {needle!r} any more: update this test with it"
    return found[0]


def _unit_option(name: str) -> list[str]:
    return re.findall(rf"^{name}=(.*)$", (DEPLOY / "systemd/foreshock.service").read_text(), flags=re.M)


@pytest.mark.parametrize("name", PRINTED)
def test_the_guide_prints_the_deploy_files_as_they_are(name):
    assert (DEPLOY / name).read_text() in _blocks(GUIDE.read_text()), f"docs/deployment.md no longer prints deploy/{name}"


def test_the_unit_and_the_settings_agree():
    """The service may write only data_dir, which holds the spool; it runs the guide's settings file."""
    import tomllib

    settings = tomllib.loads((DEPLOY / "foreshock.toml.example").read_text())
    writable = _unit_option("ReadWritePaths")[0].split()
    assert settings["data_dir"] in writable
    assert any(settings["ingest"]["spool_dir"].startswith(w + "/") for w in writable)
    assert _unit_option("ExecStart") == ["/opt/foreshock/bin/foreshock --config /etc/foreshock/foreshock.toml run"]
    assert _unit_option("EnvironmentFile") == ["/etc/foreshock/foreshock.env"]
    assert _unit_option("ProtectSystem") == ["strict"] and _unit_option("Restart") == ["on-failure"]
    for option in ("NoNewPrivileges", "PrivateTmp", "ProtectHome", "PrivateDevices"):
        assert _unit_option(option) == ["yes"], option
        assert f"`{option}=" in GUIDE.read_text(), f"the guide's hardening table does not name {option}"


def test_systemd_analyze_verifies_the_unit(tmp_path):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    # the installed path does not exist here: point ExecStart at this checkout's foreshock
    exe = shutil.which("foreshock", path=str(Path(sys.executable).parent)) or shutil.which("foreshock")
    if exe is None:
        pytest.skip("no foreshock executable beside the test's Python")
    unit = tmp_path / "foreshock.service"
    unit.write_text((DEPLOY / "systemd/foreshock.service").read_text().replace("/opt/foreshock/bin/foreshock", exe))
    done = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    problems = [line for line in (done.stdout + done.stderr).splitlines() if "foreshock.service" in line]
    assert done.returncode == 0 and not problems, done.stdout + done.stderr


# -- the guide, done ---------------------------------------------------------------------------


class _Unit:
    """A unit's MQTT connection over TLS to the units' listener."""

    def __init__(self, port: int, ca: Path, user: str, password: str, client_id: str | None = None) -> None:
        self.connected: queue.Queue = queue.Queue()
        self.dropped = queue.Queue()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or user, clean_session=False)
        self.c.reconnect_delay_set(300, 300)  # a connection the broker closes stays closed while the test looks
        self.c.username_pw_set(user, password)
        self.c.tls_set(ca_certs=str(ca), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.c.on_connect = lambda c, u, flags, rc, props: self.connected.put(rc)
        self.c.on_disconnect = lambda c, u, flags, rc, props: self.dropped.put(rc)
        self.c.connect("localhost", port)
        self.c.loop_start()
        self.rc = self.connected.get(timeout=WAIT_S)

    def publish(self, device: str, seq: int, ts_ms: int) -> None:
        payload = protocol.telemetry_payload(ts_ms, seq, {"temperature_c": 40.0 + seq})
        self.c.publish(protocol.topic(device, "telemetry"), payload, qos=1).wait_for_publish(WAIT_S)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def _substituted_broker_conf(tmp: Path, platform_port: int, units_port: int) -> Path:
    """Debian's stock mosquitto.conf (paths moved into ``tmp``) including the guide's conf.d file."""
    etc = tmp / "etc" / "mosquitto"
    (etc / "conf.d").mkdir(parents=True)
    conf = (DEPLOY / "mosquitto/foreshock.conf").read_text()
    for old, new in (("listener 1883 127.0.0.1\n", f"listener {platform_port} 127.0.0.1\n"),
                     ("listener 8883\n", f"listener {units_port} 127.0.0.1\n"), ("/etc/mosquitto", str(etc))):
        assert old in conf, f"deploy/mosquitto/foreshock.conf no longer has {old!r}: update this test"
        conf = conf.replace(old, new)
    (etc / "conf.d" / "foreshock.conf").write_text(conf)
    (tmp / "mosquitto-data").mkdir()
    stock = ["persistence true", f"persistence_location {tmp / 'mosquitto-data'}/",
             f"log_dest file {tmp / 'mosquitto.log'}", "log_type all", f"include_dir {etc / 'conf.d'}"]
    if os.geteuid() == 0:
        stock.insert(0, "user root")  # as root, Mosquitto would run as 'mosquitto', who cannot read pytest's tmp
    (etc / "mosquitto.conf").write_text("\n".join(stock) + "\n")
    return etc


def _make_certificates(certs: Path) -> None:
    """The guide's openssl commands, for the host name localhost."""
    block = _block_with(GUIDE.read_text(), "openssl req -x509")
    commands = [line for line in block.splitlines() if line.startswith(("openssl ", "printf "))]
    assert len(commands) == 4
    certs.mkdir(parents=True)
    script = "set -e\n" + "\n".join(commands).replace("broker.example.com", "localhost") + "\n"
    subprocess.run(["bash", "-c", script], cwd=certs, check=True, capture_output=True, timeout=60)


def _influx_statements(admin_pw: str, influx_pw: str) -> list[tuple[bool, str]]:
    """The guide's InfluxQL for InfluxDB 1.x: (as admin?, statement)."""
    block = _block_with(GUIDE.read_text(), "CREATE DATABASE foreshock WITH DURATION")
    out = []
    for line in block.splitlines():
        m = re.search(r'"q=(.*)"$', line)
        if m:
            q = m.group(1).replace("$ADMINPW", admin_pw).replace("$INFLUXPW", influx_pw)
            out.append(("-u admin:" in line, q))
    assert len(out) == 4
    return out


def _admin_script(tmp: Path, env_file: Path, config: Path) -> Path:
    """deploy/foreshock-admin with its two paths and the installed executable substituted."""
    text = (DEPLOY / "foreshock-admin").read_text()
    for old, new in (("/etc/foreshock/foreshock.env", str(env_file)), ("/etc/foreshock/foreshock.toml", str(config)),
                     ("/opt/foreshock/bin/foreshock", f"{shlex.quote(sys.executable)} -m foreshock")):
        assert old in text
        text = text.replace(old, new)
    script = tmp / "foreshock-admin"
    script.write_text(text)
    script.chmod(0o755)
    return script


def _step6(admin: Path, etc: Path, tmp: Path, first: bool) -> list[str]:
    """Run the guide's step 6 commands (the first block, or the one for a later unit); their stdout."""
    block = _block_with(GUIDE.read_text(), "foreshock-admin db upgrade" if first else "devices provision P-0002")
    text = block.replace("\\\n", " ")
    pump = _block_with((ROOT / "README.md").read_text(), "# pump.toml")
    (tmp / "pump.toml").write_text(pump)
    outputs = []
    for line in text.splitlines():
        line = line.split("  #")[0].strip()
        if line.startswith("systemctl "):
            continue
        assert line.startswith("foreshock-admin "), line
        line = line.replace("/etc/mosquitto", str(etc)).replace("--file pump.toml", f"--file {tmp / 'pump.toml'}")
        if os.geteuid() != 0:
            line = line.replace("--group mosquitto", "")  # only root may give files to the broker's group
        words = shlex.split(line)
        done = subprocess.run([str(admin), *words[1:]], capture_output=True, text=True, timeout=120,
                              env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        assert done.returncode == 0, f"{line}: {done.stderr}"
        outputs.append(done.stdout)
    return outputs


def _env_from_file(path: Path) -> dict[str, str]:
    """What systemd's EnvironmentFile= gives the service (KEY=value lines)."""
    env = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            env[key] = value
    return env


@pytest.fixture
def empty_postgres_url():
    """A PostgreSQL database of this test's own: the session's (``postgres_url``) holds other tests' units, and
    the guide registers P-0001 as on a new server."""
    from tests.servers import fresh_postgres_database

    yield from fresh_postgres_database()


@pytest.mark.integration
def test_the_guide_done_with_its_files(tmp_path, empty_postgres_url, request):
    for name in ("openssl", "influxd"):
        if shutil.which(name) is None and not Path(f"/usr/bin/{name}").exists():
            pytest.skip(f"{name} is not installed")
    if not mosquitto_available():
        pytest.skip("mosquitto is not installed")
    ports = dict(zip(("platform", "units", "api"), distinct_free_ports(3), strict=True))

    # 3. InfluxDB 1.x with authentication, the database, its retention policy, Foreshock's user
    (tmp_path / "influxd").mkdir()
    influxd = InfluxdServer(workdir=tmp_path / "influxd", auth=True).start()
    request.addfinalizer(influxd.stop)  # also when a step below fails before the servers' try block
    admin_pw, influx_pw, mqtt_pw = (uuid.uuid4().hex for _ in range(3))
    for as_admin, q in _influx_statements(admin_pw, influx_pw):
        resp = httpx.post(f"{influxd.url}/query", data={"q": q}, auth=("admin", admin_pw) if as_admin else None)
        assert resp.status_code == 200 and "error" not in resp.text, (q, resp.text)

    # 4. certificates and Mosquitto's configuration (started after step 6 wrote its files)
    etc = _substituted_broker_conf(tmp_path, ports["platform"], ports["units"])
    _make_certificates(etc / "certs")

    # 5. settings and secrets
    data = tmp_path / "var-lib-foreshock"
    toml = (DEPLOY / "foreshock.toml.example").read_text()
    for old, new in (('"/var/lib/foreshock"', f'"{data}"'), ('"/var/lib/foreshock/spool"', f'"{data}/spool"'),
                     ("mqtt://127.0.0.1:1883", f"mqtt://127.0.0.1:{ports['platform']}"),
                     ('url = "http://127.0.0.1:8086"', f'url = "{influxd.url}"'),
                     ("port = 8000", f"port = {ports['api']}"), ("CHANGE-ME", uuid.uuid4().hex[:12])):
        assert old in toml, f"deploy/foreshock.toml.example no longer has {old!r}: update this test"
        toml = toml.replace(old, new)
    config = tmp_path / "foreshock.toml"
    config.write_text(toml)
    client_id = re.search(r'^client_id = "([^"]+)"', toml, flags=re.M).group(1)
    env_text = (DEPLOY / "foreshock.env.example").read_text()
    env_text = env_text.replace(
        "postgresql+psycopg://foreshock:CHANGE-ME@127.0.0.1:5432/foreshock", empty_postgres_url
    ).replace("FORESHOCK_MQTT__PASSWORD=CHANGE-ME", f"FORESHOCK_MQTT__PASSWORD={mqtt_pw}").replace(
        "FORESHOCK_TELEMETRY__PASSWORD=CHANGE-ME", f"FORESHOCK_TELEMETRY__PASSWORD={influx_pw}")
    assert "CHANGE-ME" not in env_text.split("# influx2")[0]
    env_file = tmp_path / "foreshock.env"
    env_file.write_text(env_text)
    admin = _admin_script(tmp_path, env_file, config)

    # 6. tables, the model, a unit, its password, the broker's files
    outputs = _step6(admin, etc, tmp_path, first=True)
    password = re.search(r"^password: (\S+)$", "".join(outputs), flags=re.M).group(1)
    broker_log = tmp_path / "mosquitto.log"
    broker = subprocess.Popen([_mosquitto_binary(), "-c", str(etc / "mosquitto.conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    service = None
    log = None
    units: list[_Unit] = []
    try:
        wait_for_port("127.0.0.1", ports["units"], WAIT_S, broker)

        # 7. the unit's ExecStart, with the environment systemd would give it
        exec_start = _unit_option("ExecStart")[0].replace("/opt/foreshock/bin/foreshock",
                                                          f"{sys.executable} -m foreshock")
        exec_start = exec_start.replace("/etc/foreshock/foreshock.toml", str(config))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", **_env_from_file(env_file)}
        log = open(tmp_path / "service.log", "wb")  # noqa: SIM115 - closed below
        service = subprocess.Popen(shlex.split(exec_start), stdout=log, stderr=subprocess.STDOUT, env=env, cwd="/")
        api = f"http://127.0.0.1:{ports['api']}"

        def ready() -> bool:
            assert service.poll() is None, (tmp_path / "service.log").read_text()
            try:
                return httpx.get(f"{api}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, WAIT_S, what="/readyz to answer 200")
        assert httpx.get(f"{api}/readyz").json()["checks"] == {
            "database": "ok", "telemetry_store": "ok", "broker": "ok", "alert_queue": "ok"}

        # a unit publishes over TLS on the units' listener; its telemetry reaches InfluxDB
        ca = etc / "certs" / "ca.crt"
        unit = _Unit(ports["units"], ca, "P-0001", password)
        units.append(unit)
        assert not unit.rc.is_failure, unit.rc
        t0 = protocol.now_ms() - 60_000

        def stored(device: str) -> int:
            resp = httpx.get(f"{influxd.url}/query", auth=("foreshock", influx_pw), params={
                "db": "foreshock", "q": f"SELECT count(temperature_c) FROM two_years.telemetry WHERE device='{device}'"})
            series = resp.json()["results"][0].get("series")
            return series[0]["values"][0][1] if series else 0

        for i in range(3):
            unit.publish("P-0001", i, t0 + i)
        wait_until(lambda: stored("P-0001") == 3, WAIT_S, what="P-0001's telemetry in InfluxDB (retention policy two_years)")

        # the platform's client id on the units' listener: the broker names the client P-0001 instead
        squatter = _Unit(ports["units"], ca, "P-0001", password, client_id=client_id)
        units.append(squatter)
        assert not squatter.rc.is_failure
        squatter.publish("P-0001", 3, t0 + 3)
        wait_until(lambda: stored("P-0001") == 4, WAIT_S, what="telemetry after the take-over attempt")
        unit.dropped.get(timeout=WAIT_S)  # the squatter was named P-0001, so it replaced the unit's own connection
        log_text = broker_log.read_text()
        as_platform_id = [line for line in log_text.splitlines() if f" as {client_id} (" in line]
        assert as_platform_id and all("u'foreshock'" in line for line in as_platform_id), as_platform_id
        assert f"Client {client_id} already connected" not in log_text  # the platform's connection was never closed
        assert squatter.dropped.empty()

        # a unit provisioned while the service runs: refused until the broker's reload, then accepted
        out = _step6(admin, etc, tmp_path, first=False)
        password2 = re.search(r"^password: (\S+)$", "".join(out), flags=re.M).group(1)
        refused = _Unit(ports["units"], ca, "P-0002", password2)
        units.append(refused)
        assert refused.rc.is_failure
        broker.send_signal(signal.SIGHUP)  # systemctl reload mosquitto

        def p2_connects() -> bool:
            u = _Unit(ports["units"], ca, "P-0002", password2)
            units.append(u)
            return not u.rc.is_failure

        wait_until(p2_connects, WAIT_S, what="P-0002 accepted after the reload")
        units[-1].publish("P-0002", 0, t0)
        wait_until(lambda: stored("P-0002") == 1, WAIT_S, what="P-0002's telemetry in InfluxDB")

        # SIGTERM (systemctl stop): a clean stop
        service.send_signal(signal.SIGTERM)
        assert service.wait(60) == 0
        assert "Traceback" not in (tmp_path / "service.log").read_text()
    finally:
        for u in units:
            u.close()
        if service is not None and service.poll() is None:
            service.kill()
            service.wait()
        if log is not None:
            log.close()
        broker.terminate()
        broker.wait(10)
