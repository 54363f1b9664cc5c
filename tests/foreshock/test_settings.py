from __future__ import annotations

import re

import pytest

from foreshock.settings import SettingsError, load_settings


def test_defaults_are_embedded():
    s = load_settings()
    assert s.telemetry.backend == "embedded"
    assert s.database_url.startswith("sqlite:///")
    assert (s.mqtt.host, s.mqtt.port) == ("127.0.0.1", 1883)


def test_environment_beats_file_and_file_beats_defaults(tmp_path, monkeypatch):
    cfg = tmp_path / "f.toml"
    cfg.write_text('[api]\nport = 9000\nhost = "0.0.0.0"\n[mqtt]\nurl = "mqtts://b.example:8884"\n')
    monkeypatch.setenv("FORESHOCK_API__PORT", "8001")
    s = load_settings(cfg)
    assert s.api.port == 8001 and s.api.host == "0.0.0.0"
    assert s.mqtt.tls and s.mqtt.port == 8884


@pytest.mark.parametrize(
    "env, value, named",
    [
        ("FORESHOCK_MQTT__URL", "http://broker", "mqtt.url"),
        ("FORESHOCK_API__PORT", "99999", "api.port"),
        ("FORESHOCK_TELEMETRY__BACKEND", "mongo", "telemetry.backend"),
        ("FORESHOCK_DATABASE__URL", "mysql://x/y", "database.url"),
        ("FORESHOCK_MQTT__TOPIC_ROOT", "a/b", "mqtt.topic_root"),
        ("FORESHOCK_TELEMETRY__URL", "http://influx:8086/write?db=foreshock", "telemetry.url"),  # the client adds these
    ],
)
def test_bad_setting_is_named(monkeypatch, env, value, named):
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert named in str(err.value) and env in str(err.value)


def test_influx2_needs_a_token(monkeypatch):
    monkeypatch.setenv("FORESHOCK_TELEMETRY__BACKEND", "influx2")
    with pytest.raises(SettingsError) as err:
        load_settings()
    # was "setting (settings) (FORESHOCK_): telemetry.token is required ..."
    assert str(err.value).splitlines()[1] == (
        "  setting telemetry.token (FORESHOCK_TELEMETRY__TOKEN): required when telemetry.backend is influx2")


def test_bad_files_are_named(tmp_path):
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[api\nport=1")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(bad)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[apii]\nport=1\n")
    with pytest.raises(SettingsError, match="apii"):
        load_settings(unknown)


@pytest.mark.parametrize("var,says", [
    ("FORESHOCK_MQTT__URLL", "no setting mqtt.urll (did you mean FORESHOCK_MQTT__URL?)"),
    ("FORESHOCK_MQT__URL", "no setting mqt (did you mean FORESHOCK_MQTT__URL?)"),
    ("FORESHOCK_ALERTS__SMTP__HOSTT", "did you mean FORESHOCK_ALERTS__SMTP__HOST?"),
    ("FORESHOCK_ZZZ__Q", "no setting zzz (the settings has "),
])
def test_a_misspelt_environment_variable_is_named_not_ignored(monkeypatch, var, says):
    monkeypatch.setenv(var, "x")
    with pytest.raises(SettingsError, match=re.escape(var)) as err:
        load_settings()
    assert says in str(err.value)


def test_other_foreshock_variables_and_real_settings_pass(monkeypatch):
    monkeypatch.setenv("FORESHOCK_TEST_PG", "postgresql://x")  # a tool's variable, not a setting
    monkeypatch.setenv("FORESHOCK_MQTT__URL", "mqtt://broker:1884")
    assert load_settings().mqtt.url == "mqtt://broker:1884"


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ('[mqtt]\nurll = "mqtt://b:1883"\n', "setting mqtt.urll: no such setting (did you mean mqtt.url?)"),
        ('[mqtt]\npasword = "secret"\n', "setting mqtt.pasword: no such setting (did you mean mqtt.password?)"),
        ('[alerts.smtp]\nhostt = "mail"\n',
         "setting alerts.smtp.hostt: no such setting (did you mean alerts.smtp.host?)"),
        ('[[alerts.routes]]\nname = "r"\ncolour = 1\n', "setting alerts.routes[0].colour: no such setting"),
        ('log_levl = "INFO"\n', "setting log_levl: no such setting (did you mean log_level?)"),
    ],
)
def test_a_misspelt_key_in_a_nested_section_of_the_file_is_named_not_ignored(tmp_path, toml, says):
    """Only top-level keys were checked: '[mqtt] pasword = ...' was dropped without a word and the
    service then connected without a password."""
    path = tmp_path / "foreshock.toml"
    path.write_text(toml)
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert f"invalid configuration (file {path})" in str(info.value) and says in str(info.value)


@pytest.mark.parametrize("url, says", [
    ("postgresql+asyncpg://fs:s3cret@db/fs", "the driver of 'postgresql+asyncpg' is not installed"),
    ("postgresql+nosuchdriver://fs:s3cret@db/fs", "unknown database driver 'postgresql+nosuchdriver'"),
    ("postgresql+psycopg://fs:s3cret@db:54x2/fs", "not a valid database URL"),
])
def test_a_database_url_that_cannot_work_is_named_at_start(monkeypatch, url, says):
    """A driver that is not installed and a port that is not a number were tracebacks from whichever
    command first opened the database (ModuleNotFoundError, ValueError)."""
    pytest.importorskip("psycopg")
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", url)
    with pytest.raises(SettingsError) as info:
        load_settings()
    msg = str(info.value)
    assert "setting database.url (FORESHOCK_DATABASE__URL): " + says in msg
    assert "s3cret" not in msg


def test_the_documented_database_urls_pass(monkeypatch):
    pytest.importorskip("psycopg")
    for url in ("sqlite:///var/foreshock.db", "sqlite://", "postgresql+psycopg://foreshock@db.example.com/foreshock",
                "postgresql+psycopg://fs:pw@127.0.0.1:5432/fs"):
        monkeypatch.setenv("FORESHOCK_DATABASE__URL", url)
        assert load_settings().database.url == url


@pytest.mark.parametrize("value", ["-5", "65536", "100000"])
def test_an_mqtt_keepalive_outside_the_protocols_two_bytes_is_named(monkeypatch, value):
    """-5 was an IngestError traceback at start; 100000 killed paho's network thread (struct.error) and
    the service said only that it was not connected yet, for ever."""
    monkeypatch.setenv("FORESHOCK_MQTT__KEEPALIVE_S", value)
    with pytest.raises(SettingsError, match=r"setting mqtt\.keepalive_s \(FORESHOCK_MQTT__KEEPALIVE_S\)"):
        load_settings()


def test_a_bad_environment_variable_is_not_blamed_on_the_config_file(tmp_path, monkeypatch):
    path = tmp_path / "foreshock.toml"
    path.write_text('[mqtt]\nurl = "mqtt://broker:1883"\n')
    monkeypatch.setenv("FORESHOCK_MQTT__QOS", "3")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert str(info.value).startswith("invalid configuration (environment):\n  setting mqtt.qos (FORESHOCK_MQTT__QOS)")
    monkeypatch.delenv("FORESHOCK_MQTT__QOS")
    path.write_text("[mqtt]\nqos = 3\n")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert str(info.value).startswith(f"invalid configuration (file {path}):")


@pytest.mark.parametrize("var, value, says", [
    # a list is given whole, as JSON: the variable was taken for alerts.routes itself ("Input should be a valid
    # list", naming FORESHOCK_ALERTS__ROUTES, which was not set)
    ("FORESHOCK_ALERTS__ROUTES__0__NAME", "desk",
     "environment variable FORESHOCK_ALERTS__ROUTES__0__NAME: setting alerts.routes is given whole, as a JSON list "
     "in FORESHOCK_ALERTS__ROUTES"),
    # below a plain value: was "setting mqtt.url (FORESHOCK_MQTT__URL): Input should be a valid string"
    ("FORESHOCK_MQTT__URL__HOST", "broker",
     "environment variable FORESHOCK_MQTT__URL__HOST: setting mqtt.url is one value, set as FORESHOCK_MQTT__URL"),
])
def test_a_variable_below_a_list_or_a_plain_value_is_named(monkeypatch, var, value, says):
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert str(info.value) == f"invalid configuration (environment):\n  {says}"


def test_an_error_inside_a_json_list_from_the_environment_names_the_variable_that_holds_it(tmp_path, monkeypatch):
    """FORESHOCK_ALERTS__ROUTES='[{"name": 1}]' was blamed on the config file, and named variables that do not
    exist (FORESHOCK_ALERTS__ROUTES__0__NAME); a dict key given alone (FORESHOCK_ALERTS__RESPONSE_H__CRITICAL, which
    replaces the whole table) was blamed on neither."""
    path = tmp_path / "foreshock.toml"
    path.write_text('[mqtt]\nurl = "mqtt://broker:1883"\n')
    monkeypatch.setenv("FORESHOCK_ALERTS__ROUTES", '[{"name": 1, "channel": "webhook"}]')
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    text = str(info.value)
    assert text.startswith("invalid configuration (environment):\n  setting alerts.routes.0.name "
                           "(FORESHOCK_ALERTS__ROUTES): Input should be a valid string"), text
    assert "__0" not in text
    monkeypatch.delenv("FORESHOCK_ALERTS__ROUTES")
    monkeypatch.setenv("FORESHOCK_ALERTS__RESPONSE_H__CRITICAL", "4")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert str(info.value) == ("invalid configuration (environment):\n  setting alerts.response_h "
                               "(FORESHOCK_ALERTS__RESPONSE_H__CRITICAL): missing clock for grade(s) major, minor")
    monkeypatch.delenv("FORESHOCK_ALERTS__RESPONSE_H__CRITICAL")
    path.write_text('[[alerts.routes]]\nname = "desk"\nchannel = "slack"\ntarget = "x"\n')
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert str(info.value).startswith(f"invalid configuration (file {path}):\n  setting alerts.routes.0 "
                                      "(FORESHOCK_ALERTS__ROUTES): route channel must be one of"), str(info.value)


def test_credentials_in_the_mqtt_url_are_refused_naming_the_settings_that_hold_them(monkeypatch):
    """mqtt://user:password@host was accepted and its user and password silently ignored: the service connected
    without them, the broker answered 'Not authorized', and the password would be printed wherever the URL is."""
    monkeypatch.setenv("FORESHOCK_MQTT__URL", "mqtt://foreshock:s3cret@broker:1883")
    with pytest.raises(SettingsError) as info:
        load_settings()
    text = str(info.value)
    assert text == ("invalid configuration (environment):\n  setting mqtt.url (FORESHOCK_MQTT__URL): a user or password "
                    "in the URL is not used: give them as mqtt.username and mqtt.password (FORESHOCK_MQTT__USERNAME, "
                    "FORESHOCK_MQTT__PASSWORD)"), text
    assert "s3cret" not in text


def test_a_log_level_is_taken_in_any_letter_case(tmp_path, monkeypatch, capsys):
    """`FORESHOCK_LOG_LEVEL=debug` (an environment file's usual spelling, and `log_level = "info"` in the TOML)
    stopped every command: 'Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR''."""
    from foreshock.cli import main

    monkeypatch.setenv("FORESHOCK_LOG_LEVEL", "debug")
    assert load_settings(None).log_level == "DEBUG"
    monkeypatch.delenv("FORESHOCK_LOG_LEVEL")
    cfg = tmp_path / "f.toml"
    cfg.write_text('log_level = "Warning"\n')
    assert load_settings(cfg).log_level == "WARNING"
    monkeypatch.setenv("FORESHOCK_LOG_LEVEL", "loud")
    with pytest.raises(SettingsError, match="log_level"):
        load_settings(None)
    monkeypatch.delenv("FORESHOCK_LOG_LEVEL")
    assert main(["--log-level", "error", "version"]) == 0
