"""The broker's authentication and access control, written from the registry.

Two files for Mosquitto 2: a password file (``username:$7$...`` lines) with the platform user and
every provisioned unit in service, and an ACL in which the platform user may read and write
everything under the topic root and each unit, in its own ``user`` block, may only publish its own
``telemetry``, ``vibration`` and ``status`` (its last will) and read its own ``health``. Both are
written atomically (temporary file, then rename) with mode 0600; the broker rereads them on SIGHUP.
A file that is replaced keeps its owner and group (so a ``chgrp mosquitto`` survives the next write),
and ``group`` gives both files to the group the broker runs as. Both files are wholly managed: lines
added by hand are replaced on the next write.

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

import grp
import logging
import os
import pwd
import stat
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

__all__ = [
    "BrokerConfig", "acl_text", "password_file_text", "write_broker_config", "atomic_write", "group_id", "readable_by",
]

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


def group_id(group: str | int) -> int:
    """The numeric id of a group given by name or number; ValueError naming it when there is none."""
    if isinstance(group, int) or str(group).isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise ValueError(f"--group: no group named {group!r} on this machine") from None


def _owner_for(path: Path, group: int | None) -> tuple[int, int]:
    """The ``(uid, gid)`` the new file must have (-1: as created).

    The old file's group, or ``group``; the old file's owner too when running as root (only root
    may give a file away, and the owner matters less: a broker reads these files as their group).
    """
    try:
        old = path.stat()
    except FileNotFoundError:
        return -1, (-1 if group is None else group)
    uid = old.st_uid if os.geteuid() == 0 else -1
    return uid, (old.st_gid if group is None else group)


def atomic_write(path: str | Path, text: str, mode: int | None = 0o600, *, group: int | None = None) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same directory and a rename.

    The new file keeps the owner and group of the file it replaces (a broker that reads it through
    its group can still read it after the rename); ``group`` (a gid) sets the group instead. When
    that is not permitted the old file is left as it was and PermissionError says why. ``mode``
    None keeps the replaced file's mode (without any bit for other users), else 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        mode = stat.S_IMODE(path.stat().st_mode) & 0o770 if path.exists() else 0o600
    uid, gid = _owner_for(path, group)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        _chown(tmp, uid, gid, path)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _chown(tmp: str, uid: int, gid: int, path: Path) -> None:
    st = os.stat(tmp)
    uid = -1 if uid in (-1, st.st_uid) else uid
    gid = -1 if gid in (-1, st.st_gid) else gid
    if uid == -1 and gid == -1:
        return
    try:
        os.chown(tmp, uid, gid)
    except PermissionError:
        raise PermissionError(
            f"{path}: cannot give the new file owner {_name(uid, pwd.getpwuid)} and group {_name(gid, grp.getgrgid)} "
            "(as the file it replaces, or --group): run as root or as a member of that group; nothing was changed"
        ) from None


def _name(ident: int, lookup) -> str:
    if ident == -1:
        return "(unchanged)"
    try:
        return lookup(ident)[0]
    except KeyError:
        return str(ident)


def readable_by(path: str | Path, user: str) -> bool | None:
    """Whether ``user`` may read ``path`` by its mode bits (None: no such user or file)."""
    try:
        account, st = pwd.getpwnam(user), os.stat(path)
    except (KeyError, FileNotFoundError):
        return None
    if account.pw_uid == 0 or (st.st_uid == account.pw_uid and st.st_mode & stat.S_IRUSR):
        return True
    groups = {account.pw_gid} | {g.gr_gid for g in grp.getgrall() if user in g.gr_mem}
    return bool(st.st_gid in groups and st.st_mode & stat.S_IRGRP) or bool(st.st_mode & stat.S_IROTH)


def _same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name one file (also through a symlink or a relative path), existing or not."""
    try:
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def write_broker_config(
    registry: Registry,
    *,
    passwd_path: str | Path,
    acl_path: str | Path,
    platform_user: str | None,
    platform_password: str | None = None,
    platform_password_hash: str | None = None,
    root: str = "foreshock",
    file_mode: int | None = 0o600,
    group: str | int | None = None,
) -> BrokerConfig:
    """Write the password file and ACL for every provisioned unit in service.

    The platform user's entry comes from its password (hashed here) or an existing ``$7$`` hash.
    ``file_mode`` 0o640 with ``group`` (a name or gid, e.g. ``mosquitto``) lets a broker running as
    another user read them; without ``group`` replaced files keep their owner and group, and with
    ``file_mode`` None their mode too (0600 for new files).
    """
    if file_mode is not None and file_mode & 0o007:
        raise ValueError(f"file mode {file_mode:o} would let every user read the broker's credentials")
    if _same_file(passwd_path, acl_path):  # the ACL written second would replace the passwords: every client refused
        raise ValueError(f"the password file and the ACL must be two files, both are {str(passwd_path)!r}")
    gid = None if group is None else group_id(group)
    entries: list[tuple[str, str]] = []
    if platform_user:
        if platform_password_hash is None:
            if not platform_password:
                raise ValueError(
                    f"the platform's broker user {platform_user!r} (setting mqtt.username) has no password: set "
                    "mqtt.password (FORESHOCK_MQTT__PASSWORD, in the environment file in production) and write the "
                    "files again"
                )
            platform_password_hash = hash_password(platform_password)
        entries.append((platform_user, platform_password_hash))
    units = registry.broker_credentials()
    if platform_user and any(user == platform_user for user, _ in units):
        raise ValueError(f"a unit is named like the platform user {platform_user!r}")
    entries += units
    passwd_text = password_file_text(entries)
    acl = acl_text([user for user, _ in units], platform_user=platform_user, root=root)
    atomic_write(passwd_path, passwd_text, file_mode, group=gid)
    atomic_write(acl_path, acl, file_mode, group=gid)
    log.info("broker config written: %d units to %s and %s", len(units), passwd_path, acl_path)
    return BrokerConfig(Path(passwd_path), Path(acl_path), len(units), platform_user)
