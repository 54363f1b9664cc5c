"""Per-unit MQTT passwords and their Mosquitto 2 ``$7$`` hashes.

Mosquitto 2 reads password-file lines ``username:$7$<iterations>$<salt b64>$<hash b64>``: PBKDF2
with HMAC-SHA512, a 12-byte salt and a 64-byte key (``mosquitto_passwd`` writes 101 iterations).
Only the hash is stored; the password is generated here and shown once.

>>> h = hash_password("s3cret", salt=bytes(12))
>>> h.split("$")[1:3]
['7', '101']
>>> verify_password("s3cret", h), verify_password("wrong", h)
(True, False)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

__all__ = ["generate_password", "hash_password", "verify_password", "is_mosquitto_hash", "ITERATIONS"]

ITERATIONS = 101  # what mosquitto_passwd writes; the broker hashes on every CONNECT
_SALT_BYTES = 12
_KEY_BYTES = 64


def generate_password(nbytes: int = 24) -> str:
    """A new random password (URL-safe, 32 characters for the default 24 bytes)."""
    return secrets.token_urlsafe(nbytes)


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """The ``$7$`` PBKDF2-SHA512 hash of ``password`` as Mosquitto 2 stores it."""
    if not password:
        raise ValueError("password must not be empty")
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    key = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, _KEY_BYTES)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def _split(hashed: str) -> tuple[int, bytes, bytes] | None:
    parts = hashed.split("$")
    if len(parts) != 5 or parts[0] != "" or parts[1] != "7":
        return None
    try:
        iterations = int(parts[2])
        salt = base64.b64decode(parts[3], validate=True)
        key = base64.b64decode(parts[4], validate=True)
    except (ValueError, binascii.Error):
        return None
    if iterations < 1 or not salt or len(key) != _KEY_BYTES:
        return None
    return iterations, salt, key


def is_mosquitto_hash(hashed: str) -> bool:
    """Whether ``hashed`` is a well-formed ``$7$`` hash."""
    return _split(hashed) is not None


def verify_password(password: str, hashed: str) -> bool:
    """Whether ``password`` matches ``hashed`` (constant-time comparison); False for a malformed hash."""
    parts = _split(hashed)
    if parts is None:
        return False
    iterations, salt, key = parts
    candidate = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, _KEY_BYTES)
    return hmac.compare_digest(candidate, key)
