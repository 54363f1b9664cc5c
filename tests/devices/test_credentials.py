"""Mosquitto $7$ hashes: compatible with mosquitto_passwd in both directions, malformed input refused."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.broker_config import acl_text, atomic_write, password_file_text
from devices.credentials import generate_password, hash_password, is_mosquitto_hash, verify_password


@given(st.text(min_size=1, max_size=64).filter(lambda s: "\x00" not in s))
@settings(max_examples=50, deadline=None)
def test_round_trip(password):
    hashed = hash_password(password)
    assert is_mosquitto_hash(hashed)
    assert verify_password(password, hashed)
    assert not verify_password(password + "x", hashed)


def test_salt_makes_every_hash_different():
    assert hash_password("same") != hash_password("same")
    assert len({generate_password() for _ in range(100)}) == 100
    assert len(generate_password()) == 32


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="mosquitto_passwd is not installed")
def test_hash_written_by_mosquitto_passwd_verifies(tmp_path):
    path = tmp_path / "passwd"
    path.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(path), "unit-1", "s3cret pass"], check=True, capture_output=True)
    user, hashed = path.read_text().strip().split(":", 1)
    assert user == "unit-1" and is_mosquitto_hash(hashed)
    assert verify_password("s3cret pass", hashed) and not verify_password("s3cret", hashed)


@pytest.mark.parametrize(
    "hashed",
    ["", "plain", "$6$101$AAAA$BBBB", "$7$x$AAAA$BBBB", "$7$101$!!!$BBBB", "$7$101$AAAAAAAAAAAAAAAA$QUJD",
     "$7$0$AAAAAAAAAAAAAAAA$" + "A" * 88],
)
def test_malformed_hashes_never_verify(hashed):
    assert not is_mosquitto_hash(hashed)
    assert not verify_password("anything", hashed)


def test_bad_input_to_the_writers():
    with pytest.raises(ValueError, match="empty"):
        hash_password("")
    with pytest.raises(ValueError, match="not a Mosquitto"):
        password_file_text([("u", "plain")])
    with pytest.raises(ValueError, match="':'"):
        password_file_text([("a:b", hash_password("x"))])
    with pytest.raises(ValueError, match="invalid device id"):
        acl_text(["has space"], platform_user=None)


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "sub" / "acl"
    atomic_write(path, "one\n")
    atomic_write(path, "two\n")
    assert path.read_text() == "two\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["acl"]
