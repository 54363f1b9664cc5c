"""Ownership and mode of the broker's password file and ACL across rewrites.

Mosquitto as packaged by Debian runs as user ``mosquitto`` and reads both files as their group
(``root:mosquitto``, 0640). A rewrite that resets the group to the writer's own made the next reload
fail to open the password file, and the broker then refused every client, Foreshock included.
"""

from __future__ import annotations

import grp
import os
import pwd
from pathlib import Path

import pytest

from devices.broker_config import readable_by, write_broker_config
from devices.cli_broker import _warn_if_broker_cannot_read
from foreshock.cli import main

PLATFORM = ("foreshock", "platform-secret")


def _other_gid() -> int:
    """A group this process may give files to that is not its own primary group."""
    own = os.getegid()
    if os.geteuid() == 0:
        candidates = [g.gr_gid for g in grp.getgrall()]
    else:
        candidates = os.getgroups()
    for gid in candidates:
        if gid != own:
            return gid
    pytest.skip("no second group this user may give files to")


def _write(registry, tmp_path, **kw):
    return write_broker_config(registry, passwd_path=tmp_path / "passwd", acl_path=tmp_path / "acl",
                               platform_user=PLATFORM[0], platform_password=PLATFORM[1], **kw)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_rewritten_files_keep_the_group_and_mode_the_broker_reads_them_by(registry, tmp_path):
    registry.create_unit("A-1")
    registry.provision("A-1")
    _write(registry, tmp_path)
    gid = _other_gid()
    for name in ("passwd", "acl"):
        os.chown(tmp_path / name, -1, gid)  # what an operator does: chgrp mosquitto; chmod 640
        os.chmod(tmp_path / name, 0o640)
    registry.create_unit("B-1")
    registry.provision("B-1")
    _write(registry, tmp_path, file_mode=None)  # the CLI without --mode
    for name in ("passwd", "acl"):
        st = (tmp_path / name).stat()
        assert (st.st_gid, st.st_mode & 0o777) == (gid, 0o640), name
    assert "B-1:" in (tmp_path / "passwd").read_text()
    _write(registry, tmp_path)  # an explicit 0600 still keeps the group
    assert (tmp_path / "passwd").stat().st_gid == gid


def test_group_option_gives_both_files_to_the_group_at_0640(tmp_path, monkeypatch, capsys):
    gid = _other_gid()
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("FORESHOCK_MQTT__USERNAME", PLATFORM[0])
    monkeypatch.setenv("FORESHOCK_MQTT__PASSWORD", PLATFORM[1])
    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    code = main(["devices", "write-broker-config", "--passwd", str(passwd), "--acl", str(acl),
                 "--group", grp.getgrgid(gid).gr_name])
    assert code == 0, capsys.readouterr().err
    for path in (passwd, acl):
        assert (path.stat().st_gid, path.stat().st_mode & 0o777) == (gid, 0o640)
    code = main(["devices", "write-broker-config", "--passwd", str(passwd), "--acl", str(acl),
                 "--group", "no-such-group-here"])
    err = capsys.readouterr().err
    assert code == 2 and "--group: no group named 'no-such-group-here'" in err and "Traceback" not in err


def test_one_path_for_both_files_is_refused_and_the_password_file_kept(tmp_path, monkeypatch, capsys):
    """``--passwd X --acl X`` wrote the passwords, then the ACL over them: after the reload Mosquitto
    would refuse every client, Foreshock's own connection included."""
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("FORESHOCK_MQTT__USERNAME", PLATFORM[0])
    monkeypatch.setenv("FORESHOCK_MQTT__PASSWORD", PLATFORM[1])
    passwd = tmp_path / "passwd"
    assert main(["devices", "write-broker-config", "--passwd", str(passwd), "--acl", str(tmp_path / "acl")]) == 0
    before = passwd.read_text()
    assert before.startswith(f"{PLATFORM[0]}:$7$")
    (tmp_path / "link").symlink_to(passwd)
    for acl in (passwd, tmp_path / "link", tmp_path / "sub" / ".." / "passwd"):
        capsys.readouterr()
        assert main(["devices", "write-broker-config", "--passwd", str(passwd), "--acl", str(acl)]) == 2
        err = capsys.readouterr().err
        assert "the password file and the ACL must be two files" in err and "Traceback" not in err
        assert passwd.read_text() == before  # untouched
    (tmp_path / "new").mkdir()
    new = tmp_path / "new" / "both"  # neither exists yet
    assert main(["devices", "write-broker-config", "--passwd", str(new), "--acl", str(new)]) == 2
    assert not new.exists()


def test_warning_when_the_broker_account_cannot_read_the_files(tmp_path, capsys):
    if os.geteuid() != 0:
        pytest.skip("needs root: files owned by root that another account cannot read")
    try:
        other = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody' on this machine")
    path = tmp_path / "passwd"
    path.write_text("x")
    os.chmod(tmp_path, 0o755)
    os.chmod(path, 0o600)
    assert readable_by(path, "nobody") is False
    _warn_if_broker_cannot_read(path, broker_user="nobody")
    err = capsys.readouterr().err
    assert f"warning: user 'nobody' cannot read {path}" in err and "--group nobody" in err
    os.chown(path, -1, other.pw_gid)
    os.chmod(path, 0o640)
    assert readable_by(path, "nobody") is True
    _warn_if_broker_cannot_read(path, broker_user="nobody")
    assert capsys.readouterr().err == ""
    assert readable_by(path, "no-such-user-here") is None


@pytest.mark.integration
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_mosquitto_running_as_its_own_user_still_accepts_units_after_a_rewrite_and_reload(registry):
    """The outage itself, as Debian runs Mosquitto (started by root, then user 'mosquitto'): files
    written with --group mosquitto, a unit added, the files written again without --group, SIGHUP.
    Before, the rewrite made them root:root and the reload refused every client."""
    import shutil
    import signal
    import subprocess
    import tempfile
    import time

    import paho.mqtt.client as mqtt

    from foreshock.broker import free_port

    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if os.geteuid() != 0 or not os.path.exists(binary):
        pytest.skip("needs root and mosquitto: the broker must drop to its own user")
    try:
        grp.getgrnam("mosquitto") and pwd.getpwnam("mosquitto")
    except KeyError:
        pytest.skip("no user and group 'mosquitto' on this machine")
    work = Path(tempfile.mkdtemp(prefix="qa-broker-files-"))  # under /tmp, traversable by 'mosquitto'
    os.chmod(work, 0o755)
    passwd, acl = work / "passwd", work / "acl"
    passwords = {}
    registry.create_unit("A-1")
    passwords["A-1"] = registry.provision("A-1")
    write_broker_config(registry, passwd_path=passwd, acl_path=acl, platform_user=PLATFORM[0],
                        platform_password=PLATFORM[1], file_mode=0o640, group="mosquitto")
    port = free_port()
    conf = work / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def connects(user: str, password: str) -> str:
        result: list[str] = []
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"qa-{user}")
        c.username_pw_set(user, password)
        c.on_connect = lambda client, u, flags, rc, props: result.append(str(rc))
        for _ in range(100):  # the broker may still be opening its listener
            try:
                c.connect("127.0.0.1", port)
                break
            except OSError:
                time.sleep(0.1)
        c.loop_start()
        for _ in range(100):
            if result:
                break
            time.sleep(0.1)
        c.disconnect()
        c.loop_stop()
        return result[0] if result else "no answer"

    try:
        assert connects("A-1", passwords["A-1"]) == "Success"
        registry.create_unit("B-1")
        passwords["B-1"] = registry.provision("B-1")
        write_broker_config(registry, passwd_path=passwd, acl_path=acl, platform_user=PLATFORM[0],
                            platform_password=PLATFORM[1], file_mode=None)  # as the CLI without options
        proc.send_signal(signal.SIGHUP)
        answers = []
        for _ in range(50):  # B-1 exists only once the broker has reread the files
            answers.append(connects("B-1", passwords["B-1"]))
            if answers[-1] == "Success":
                break
            time.sleep(0.2)
        assert answers[-1] == "Success", answers
        assert connects("A-1", passwords["A-1"]) == "Success"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def test_the_test_brokers_acl_gives_units_what_the_written_acl_gives_them():
    """Tests run units against ``tests.servers.DEVICE_ACL`` (patterns, so any id works); it must not
    be looser than what ``write-broker-config`` writes (it once let units read their own status)."""
    from devices.broker_config import acl_text
    from tests.servers import DEVICE_ACL

    def unit_rules(text: str, keyword: str) -> set[str]:
        return {line.replace(keyword, "topic", 1).replace("%u", "P-0001") for line in text.splitlines()
                if line.startswith(keyword)}

    written = acl_text(["P-0001"], platform_user="foreshock").split("user P-0001\n", 1)[1]
    assert unit_rules(DEVICE_ACL, "pattern ") == unit_rules(written, "topic ")


def test_a_platform_user_without_a_password_names_the_variable_and_keeps_the_files(tmp_path, monkeypatch, capsys):
    """'platform user 'foreshock' needs a password (settings mqtt.password) or a hash': no variable to set (the
    environment file is where the guide keeps it), and 'a hash' is nothing the command line can give."""
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("FORESHOCK_MQTT__USERNAME", PLATFORM[0])
    monkeypatch.delenv("FORESHOCK_MQTT__PASSWORD", raising=False)
    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    passwd.write_text("kept\n")
    assert main(["devices", "write-broker-config", "--passwd", str(passwd), "--acl", str(acl)]) == 2
    err = capsys.readouterr().err
    assert err == (f"foreshock: error: the platform's broker user {PLATFORM[0]!r} (setting mqtt.username) has no "
                   "password: set mqtt.password (FORESHOCK_MQTT__PASSWORD, in the environment file in production) and "
                   "write the files again\n"), err
    assert passwd.read_text() == "kept\n" and not acl.exists()
