"""``foreshock devices ...`` end to end on a SQLite store."""

from __future__ import annotations

import json

import pytest

from devices.cli import open_registry
from devices.credentials import verify_password
from devices.protocol import now_ms
from foreshock.cli import main
from foreshock.settings import load_settings

MODELS_TOML = """
[[models]]
name = "P-200"
rated_rpm = 1480
reporting_interval_s = 30
sensors = ["accel_x"]
bearing = { n_balls = 9, ball_d = 7.94, pitch_d = 39.04 }

[[models]]
name = "F-90"
iso_group = 1
"""


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("FORESHOCK_MQTT__USERNAME", "foreshock")
    monkeypatch.setenv("FORESHOCK_MQTT__PASSWORD", "platform-secret")

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["devices", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_models_units_csv_and_credentials(cli, tmp_path):
    models = tmp_path / "models.toml"
    models.write_text(MODELS_TOML)
    assert cli("models", "add", "--file", str(models))[0] == 0
    code, out, _ = cli("models", "add", "--name", "M-3", "--n-balls", "8", "--ball-d", "6", "--pitch-d", "30",
                       "--zone-limits", "1.4,2.8,4.5")
    assert code == 0
    code, out, _ = cli("models", "list", "--json")
    listed = {m["name"]: m for m in json.loads(out)}
    assert listed["P-200"]["bearing"]["n_balls"] == 9 and listed["M-3"]["zone_limits_mm_s"] == [1.4, 2.8, 4.5]

    assert cli("add", "P-0001", "--model", "P-200", "--customer", "ACME", "--tag", "pilot")[0] == 0
    assert cli("update", "P-0001", "--site", "Hall 2", "--batch", "B-7")[0] == 0
    code, out, _ = cli("show", "P-0001")
    shown = json.loads(out)
    assert (shown["model"], shown["site"], shown["batch"], shown["tags"]) == ("P-200", "Hall 2", "B-7", ["pilot"])
    assert cli("update", "P-0001", "--clear", "site")[0] == 0
    assert json.loads(cli("show", "P-0001")[1])["site"] is None

    csv_in = tmp_path / "in.csv"
    csv_in.write_text("device_id,model,customer\nP-0002,F-90,Beta\nP-0003,,Beta\n")
    code, out, _ = cli("import", str(csv_in))
    assert code == 0 and "2 unit(s) created" in out
    code, out, _ = cli("list", "--customer", "Beta", "--json")
    assert [u["device_id"] for u in json.loads(out)] == ["P-0002", "P-0003"]
    csv_out = tmp_path / "out.csv"
    assert cli("export", str(csv_out))[0] == 0
    assert csv_out.read_text().splitlines()[1:] == [
        "P-0001,P-200,ACME,,,,,B-7,pilot", "P-0002,F-90,Beta,,,,,,", "P-0003,,Beta,,,,,,"]

    code, out, _ = cli("provision", "P-0001")
    password = out.split("password: ")[1].strip()
    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    code, out, _ = cli("write-broker-config", "--passwd", str(passwd), "--acl", str(acl), "--mode", "640")
    assert code == 0 and "1 unit(s)" in out
    assert passwd.stat().st_mode & 0o777 == 0o640
    entries = dict(line.split(":", 1) for line in passwd.read_text().splitlines())
    assert verify_password(password, entries["P-0001"]) and verify_password("platform-secret", entries["foreshock"])
    assert "topic read foreshock/v1/P-0001/health" in acl.read_text()
    code, out, _ = cli("silent", "--json")
    assert code == 0 and json.loads(out) == []  # nothing seen yet: nothing silent
    reg = open_registry(load_settings())
    reg.mark_seen("P-0003", now_ms() - 86_400_000)  # a day ago
    reg.mark_seen("P-0001", now_ms())
    code, out, _ = cli("silent", "--json")
    assert [(u["device_id"], u["customer"]) for u in json.loads(out)] == [("P-0003", "Beta")]
    assert cli("models", "update", "P-200", "--rated-rpm", "2950", "--clear-bearing")[0] == 0
    updated = {m["name"]: m for m in json.loads(cli("models", "list", "--json")[1])}["P-200"]
    assert (updated["rated_rpm"], updated["bearing"]) == (2950.0, None)
    assert cli("revoke", "P-0001")[0] == 0
    assert cli("decommission", "P-0002")[0] == 0
    code, out, _ = cli("list", "--json")
    assert [u["device_id"] for u in json.loads(out)] == ["P-0001", "P-0003"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show", "NOPE"], "no unit 'NOPE' is registered"),
        (["add", "bad id"], "device_id"),
        (["add", "P-1", "--install-date", "yesterday"], "install_date"),
        (["models", "add", "--name", "M", "--n-balls", "9", "--ball-d", "40", "--pitch-d", "39"], "bearing.ball_d"),
        (["models", "add"], "give --file or at least --name"),
        (["models", "update", "NOPE", "--iso-group", "2"], "no machine model named 'NOPE'"),
        (["models", "update", "NOPE"], "nothing to change"),
        (["update", "P-1"], "nothing to change"),
        (["add", "P-1", "--firmware", ""], "firmware: empty: leave it out when unknown"),
        (["update", "P-1", "--site", "x"], "no unit 'P-1'"),
        (["provision", "NOPE"], "no unit 'NOPE'"),
        (["write-broker-config", "--passwd", "p", "--acl", "a", "--mode", "644"], "every user read"),
        (["write-broker-config", "--passwd", "p", "--acl", "a", "--mode", "rw"], "--mode"),
    ],
)
def test_bad_input_is_a_clear_error(cli, argv, message):
    code, _, err = cli(*argv)
    assert code == 2 and message in err and "Traceback" not in err


def test_bad_csv_reports_every_row_and_imports_nothing(cli, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("device_id,model,install_date\nP-1,NOPE,\nP-2,,2025-02-30\nP-3,,\n")
    code, _, err = cli("import", str(bad))
    assert code == 2
    assert "line 2: model: no machine model named 'NOPE'" in err and "line 3: install_date" in err
    assert json.loads(cli("list", "--json")[1]) == []


def test_models_file_errors_name_the_model(cli, tmp_path):
    bad = tmp_path / "models.json"
    bad.write_text(json.dumps([{"name": "OK-1"}, {"name": "BAD-2", "iso_group": 7}]))
    code, _, err = cli("models", "add", "--file", str(bad))
    assert code == 2 and "model #2 (BAD-2): iso_group" in err
    assert json.loads(cli("models", "list", "--json")[1]) == []  # validated before adding any


def test_a_name_twice_in_one_models_file_adds_none_of_them(cli, tmp_path):
    dup = tmp_path / "dup.toml"
    dup.write_text('[[models]]\nname = "DUP"\n\n[[models]]\nname = "OK-1"\n\n[[models]]\nname = "DUP"\n')
    code, _, err = cli("models", "add", "--file", str(dup))
    assert code == 2 and "model #3: 'DUP' is also model #1 of the file" in err
    assert json.loads(cli("models", "list", "--json")[1]) == []


def test_the_readme_walkthrough_model_file_and_commands_work(cli, tmp_path):
    """README's "Running it for real": its pump.toml and the devices commands after it."""
    import re
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = re.search(r"```toml\n# pump.toml\n(.*?)```", readme, re.S)
    assert block, "README.md shows the pump.toml that `devices models add --file pump.toml` reads"
    (tmp_path / "pump.toml").write_text(block.group(1))
    assert cli("models", "add", "--file", str(tmp_path / "pump.toml"))[0] == 0
    assert "foreshock --config foreshock.toml devices add P-0001 --model PUMP-6205 --customer ACME" in readme
    assert cli("add", "P-0001", "--model", "PUMP-6205", "--customer", "ACME")[0] == 0
    code, out, _ = cli("provision", "P-0001")
    assert code == 0 and "password:" in out
    info = json.loads(cli("show", "P-0001")[1])
    assert (info["model"], info["provisioned"]) == ("PUMP-6205", True)


def test_broker_files_without_a_platform_user_warn_that_foreshock_cannot_connect(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("FORESHOCK_MQTT__USERNAME")
    monkeypatch.delenv("FORESHOCK_MQTT__PASSWORD")
    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    code, out, err = cli("write-broker-config", "--passwd", str(passwd), "--acl", str(acl))
    assert code == 0 and "0 unit(s) written" in out
    assert "warning: mqtt.username is not set" in err and "foreshock run cannot connect" in err
    monkeypatch.setenv("FORESHOCK_MQTT__USERNAME", "foreshock")
    monkeypatch.setenv("FORESHOCK_MQTT__PASSWORD", "platform-secret")
    code, out, err = cli("write-broker-config", "--passwd", str(passwd), "--acl", str(acl))
    assert code == 0 and "mqtt.username is not set" not in err
    assert passwd.read_text().startswith("foreshock:$7$")


def test_devices_silent_uses_the_configured_deadman_like_the_service(cli, monkeypatch):
    assert cli("add", "P-0001")[0] == 0  # no model: the default reporting interval applies (60 s)
    reg = open_registry(load_settings())
    reg.mark_seen("P-0001", now_ms() - 10 * 60_000)  # ten minutes ago
    code, out, _ = cli("silent", "--json")
    assert [u["device_id"] for u in json.loads(out)] == ["P-0001"]  # 3 x 60 s by default
    monkeypatch.setenv("FORESHOCK_DEVICES__SILENT_AFTER_INTERVALS", "20")  # 20 minutes
    code, out, _ = cli("silent", "--json")
    assert code == 0 and json.loads(out) == []


def test_a_csv_that_is_not_utf8_is_named_by_line_and_byte_not_as_a_bad_header(cli, tmp_path):
    """A file saved as Latin-1 ('Gämma', byte 0xe4 on line 2) was 'line 1: header: cannot be read:
    'utf-8' codec can't decode ...'; a UTF-8 file with the BOM and CRLF line ends of spreadsheets imports."""
    latin = tmp_path / "latin.csv"
    latin.write_bytes("device_id,customer\nP-0032,Gämma\n".encode("latin-1"))
    code, _, err = cli("import", str(latin))
    assert code == 2 and "Traceback" not in err
    assert "line 2: file: not UTF-8 text (byte 0xe4 at position 27); save the CSV as UTF-8" in err
    assert json.loads(cli("list", "--json")[1]) == []  # nothing imported
    bom = tmp_path / "bom.csv"
    bom.write_bytes("device_id,customer\r\nP-0032,Gämma\r\n".encode("utf-8-sig"))
    assert cli("import", str(bom))[0] == 0
    assert json.loads(cli("show", "P-0032")[1])["customer"] == "Gämma"
