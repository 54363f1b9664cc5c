"""The broker's authentication and access control, written from the registry.

Two files for Mosquitto 2: a password file (``username:$7$...`` lines) with the platform user and
every provisioned unit in service, and an ACL in which the platform user may read and write
everything under the topic root and each unit, in its own ``user`` block, may only publish its own
``telemetry``, ``vibration`` and ``status`` (its last will) and read its own ``health``. Both are
written atomically (temporary file, then rename) with mode 0600; the broker rereads them on SIGHUP.
Both files are wholly managed: lines added by hand are replaced on the next write.

>>> print(acl_text(["P-0001"], platform_user="foreshock"), end="")
# Written by `foreshock devices write-broker-config`; edits are overwritten.
user foreshock
topic readwrite foreshock/#
<BLANKLINE>
user P-0001
topic write foreshock/v1/P-0001/telemetry
topic write foreshock/v1/P-0001/vibration
topic write foreshock/v1/P-0001/status
topic read foreshock/v1/P-0001/health
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from devices.credentials import hash_password, is_mosquitto_hash
from devices.protocol import KINDS_IN, is_valid_device_id, topic
from devices.provisioning import check_broker_username

if TYPE_CHECKING:
    from devices.registry import Registry

__all__ = ["BrokerConfig", "acl_text", "password_file_text", "write_broker_config", "atomic_write"]

log = logging.getLogger(__name__)

_HEADER = "# Written by `foreshock devices write-broker-config`; edits are overwritten.\n"


@dataclass(frozen=True)
class BrokerConfig:
    passwd_path: Path
    acl_path: Path
    units: int  # provisioned units written
    platform_user: str | None


def _check_username(name: str) -> str:
    if not name or ":" in name or "\n" in name or name != name.strip():
        raise ValueError(f"broker username {name!r} is not usable: empty, or contains ':', a newline or edge spaces")
    return name


def password_file_text(credentials: Iterable[tuple[str, str]]) -> str:
    """Password-file lines for ``(username, $7$ hash)`` pairs."""
    lines = []
    for user, hashed in credentials:
        _check_username(user)
        if not is_mosquitto_hash(hashed):
            raise ValueError(f"the stored hash of {user!r} is not a Mosquitto $7$ hash")
        lines.append(f"{user}:{hashed}\n")
    return "".join(lines)


def acl_text(device_ids: Iterable[str], *, platform_user: str | None, root: str = "foreshock") -> str:
    """The ACL: the platform user reads and writes ``root/#``; each unit only its own topics."""
    out = [_HEADER]
    if platform_user:
        out.append(f"user {_check_username(platform_user)}\ntopic readwrite {root}/#\n")
    for device_id in device_ids:
        if not is_valid_device_id(device_id):
            raise ValueError(f"invalid device id {device_id!r} in the ACL")
        check_broker_username(device_id)
        block = [f"user {device_id}"]
        block += [f"topic write {topic(device_id, kind, root)}" for kind in KINDS_IN]
        block.append(f"topic read {topic(device_id, 'health', root)}")
        out.append("\n" + "\n".join(block) + "\n")
    return "".join(out)


def atomic_write(path: str | Path, text: str, mode: int = 0o600) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same directory and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_broker_config(
    registry: Registry,
    *,
    passwd_path: str | Path,
    acl_path: str | Path,
    platform_user: str | None,
    platform_password: str | None = None,
    platform_password_hash: str | None = None,
    root: str = "foreshock",
    file_mode: int = 0o600,
) -> BrokerConfig:
    """Write the password file and ACL for every provisioned unit in service.

    The platform user's entry comes from its password (hashed here) or an existing ``$7$`` hash.
    ``file_mode`` 0o640 lets a broker running as another user of the file's group read them.
    """
    if file_mode & 0o007:
        raise ValueError(f"file mode {file_mode:o} would let every user read the broker's credentials")
    entries: list[tuple[str, str]] = []
    if platform_user:
        if platform_password_hash is None:
            if not platform_password:
                raise ValueError(
                    f"platform user {platform_user!r} needs a password (settings mqtt.password) or a hash"
                )
            platform_password_hash = hash_password(platform_password)
        entries.append((platform_user, platform_password_hash))
    units = registry.broker_credentials()
    if platform_user and any(user == platform_user for user, _ in units):
        raise ValueError(f"a unit is named like the platform user {platform_user!r}")
    entries += units
    passwd_text = password_file_text(entries)
    acl = acl_text([user for user, _ in units], platform_user=platform_user, root=root)
    atomic_write(passwd_path, passwd_text, file_mode)
    atomic_write(acl_path, acl, file_mode)
    log.info("broker config written: %d units to %s and %s", len(units), passwd_path, acl_path)
    return BrokerConfig(Path(passwd_path), Path(acl_path), len(units), platform_user)
