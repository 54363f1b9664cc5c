"""Foreshock device protocol, version 1.

The single definition of topics, payload schemas and limits. Ingest parses with it, the
simulator and the tests build payloads with it, and ``docs/device-protocol.md`` describes
it for firmware engineers.

Topics (``root`` defaults to ``foreshock``)::

    {root}/v1/{device_id}/telemetry   device -> platform   scalar values (one record or a batch)
    {root}/v1/{device_id}/vibration   device -> platform   one waveform snapshot
    {root}/v1/{device_id}/status      device -> platform   retained presence, also the last will
    {root}/v1/{device_id}/health      platform -> device   retained health state

>>> msg = parse_message("foreshock/v1/P-0001/telemetry",
...                     b'{"ts": 1700000000000, "seq": 1, "values": {"temperature_c": 41.5}}',
...                     received_at=1700000000.5)
>>> msg.kind, msg.device_id, msg.records[0].values
('telemetry', 'P-0001', {'temperature_c': 41.5})
>>> parse_message("foreshock/v1/P-0001/telemetry", b'{"ts": 1, "seq": 1, "values": {"T": 1}}',
...               received_at=1700000000.0)
Traceback (most recent call last):
...
devices.protocol.ProtocolError: schema: values: name 'T' does not match [a-z][a-z0-9_]{0,63}
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any, Literal

import numpy as np

__all__ = [
    "PROTOCOL_VERSION",
    "Reason",
    "ProtocolError",
    "TelemetryRecord",
    "VibrationSnapshot",
    "StatusMessage",
    "ParsedMessage",
    "Limits",
    "DEFAULT_LIMITS",
    "parse_topic",
    "parse_message",
    "topic",
    "subscriptions",
    "telemetry_payload",
    "vibration_payload",
    "status_payload",
    "health_payload",
    "is_valid_device_id",
    "is_valid_value_name",
    "firmware_problem",
    "RESERVED_VALUE_NAMES",
]

PROTOCOL_VERSION = "v1"
KINDS_IN = ("telemetry", "vibration", "status")
KINDS_OUT = ("health",)
AXES = ("x", "y", "z", "h", "v")
HEALTH_STATES = ("healthy", "watch", "warning", "alarm", "unknown")

_DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_VALUE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
# Names the telemetry store keeps for itself: the points' tags and InfluxDB's timestamp column. A value
# named "device" made InfluxQL read `WHERE "device" = 'P-0001'` as that field: every unit's telemetry
# vanished from queries; InfluxDB refuses a field named "time" (400), dead-lettering the whole record.
RESERVED_VALUE_NAMES = ("axis", "device", "time")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1: not text a person reads (PostgreSQL refuses NUL)
# Half of a UTF-16 pair, as a JSON escape ("\ud800") gives it: no character, and no database can store it
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_MAX_DEPTH = 4  # deepest legal payload: [ {values: {name: n}} ] -> 3 levels


class Reason(str, Enum):
    """Why a message was rejected (the dead-letter ``reason`` column)."""

    BAD_TOPIC = "bad_topic"
    UNKNOWN_DEVICE = "unknown_device"
    BAD_JSON = "bad_json"
    SCHEMA = "schema"
    NON_FINITE = "non_finite"
    TOO_LARGE = "too_large"
    FUTURE_TIMESTAMP = "future_timestamp"
    RATE_LIMITED = "rate_limited"
    STORE_REJECTED = "store_rejected"


class ProtocolError(ValueError):
    """A message that does not follow the protocol. ``reason`` is a :class:`Reason`."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Limits:
    max_payload_bytes: int = 4 * 1024 * 1024
    max_batch: int = 1000
    max_samples: int = 65_536
    min_fs: float = 100.0
    max_fs: float = 200_000.0
    max_values: int = 256
    future_tolerance_s: float = 300.0
    min_ts_ms: int = 946_684_800_000  # 2000-01-01: earlier clocks are unset, not history


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class TelemetryRecord:
    ts_ms: int
    seq: int
    values: dict[str, float]


@dataclass(frozen=True)
class VibrationSnapshot:
    ts_ms: int
    seq: int
    axis: str
    fs: float
    samples: np.ndarray = field(repr=False)  # float32, acceleration in g
    rpm: float | None = None
    unit: str = "g"


@dataclass(frozen=True)
class StatusMessage:
    state: Literal["online", "offline"]
    ts_ms: int | None
    firmware: str | None = None


@dataclass(frozen=True)
class ParsedMessage:
    device_id: str
    kind: Literal["telemetry", "vibration", "status"]
    records: tuple[TelemetryRecord, ...] = ()
    snapshot: VibrationSnapshot | None = None
    status: StatusMessage | None = None


def is_valid_device_id(device_id: str) -> bool:
    return bool(_DEVICE_ID.fullmatch(device_id))


def is_valid_value_name(name: str) -> bool:
    return bool(_VALUE_NAME.fullmatch(name)) and name not in RESERVED_VALUE_NAMES


def firmware_problem(firmware: str) -> str | None:
    """Why ``firmware`` is no version text (a control character or a lone surrogate, named with its
    position; blank), or None.

    The one rule for a unit's status message and the registry (CLI, API, CSV).
    """
    if bad := _CONTROL.search(firmware):
        return (f"control character U+{ord(bad.group()):04X} at position {bad.start()}; "
                "expected printable text such as '2.4.1'")
    if bad := _SURROGATE.search(firmware):
        # from a status it passed the parser and failed the unit's update (UnicodeEncodeError): the status was lost
        return (f"lone surrogate U+{ord(bad.group()):04X} at position {bad.start()} (a \\u escape of half a "
                "UTF-16 pair: no character); expected printable text such as '2.4.1'")
    if not firmware.strip():
        # recorded from a status, it made a fleet-report group of its own, as '' did
        return "blank: leave it out when unknown"
    return None


def topic(device_id: str, kind: str, root: str = "foreshock") -> str:
    """The topic of ``kind`` for ``device_id``; raises ValueError for an invalid id or kind."""
    if not is_valid_device_id(device_id):
        raise ValueError(f"invalid device id {device_id!r}: expected {_DEVICE_ID.pattern}")
    if kind not in KINDS_IN + KINDS_OUT:
        raise ValueError(f"unknown message kind {kind!r}")
    return f"{root}/{PROTOCOL_VERSION}/{device_id}/{kind}"


def subscriptions(root: str = "foreshock") -> list[str]:
    """The topic filters the platform subscribes to."""
    return [f"{root}/{PROTOCOL_VERSION}/+/{kind}" for kind in KINDS_IN]


def parse_topic(topic_name: str, root: str = "foreshock") -> tuple[str, str]:
    """Split a device topic into ``(device_id, kind)``; raises :class:`ProtocolError`."""
    parts = topic_name.split("/")
    if len(parts) != 4 or parts[0] != root or parts[1] != PROTOCOL_VERSION:
        raise ProtocolError(Reason.BAD_TOPIC, f"expected {root}/{PROTOCOL_VERSION}/<device_id>/<kind>")
    device_id, kind = parts[2], parts[3]
    if not is_valid_device_id(device_id):
        raise ProtocolError(Reason.BAD_TOPIC, f"invalid device id in topic: expected {_DEVICE_ID.pattern}")
    if kind not in KINDS_IN:
        raise ProtocolError(Reason.BAD_TOPIC, f"unknown message kind {kind[:32]!r}: expected one of {KINDS_IN}")
    return device_id, kind


# ---------------------------------------------------------------------------------------------
# Parsing


# One decoder, not one per message. NaN, Infinity and -Infinity parse as floats (as 1e400 does), so the
# field checks reject them naming the field: `[3].values.temperature_c is not a finite number`, not `NaN ...`.
def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose names are unique: the decoder alone keeps the last of two equal names, so two
    sensors a firmware configured under one name lost the first one's readings without a word."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        name = next(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
        raise ProtocolError(Reason.SCHEMA, f"{name[:70]!r} appears twice in one JSON object "
                                           "(names must be unique; only the last would be kept)")
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_names)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# RFC 3339 `date-time` (T and Z in either case, or a space between date and time, as its section 5.6
# allows), the offset optional only to say that it is missing. Not `datetime.fromisoformat` alone: it
# takes most of ISO 8601, so a string a formatting bug cut short ('2023-11-14T22Z') was stored as 22:00.
_RFC3339 = re.compile(r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2}(?:\.\d+)?)"
                      r"(?P<offset>[Zz]|[+-]\d{2}:\d{2})?", re.ASCII)
_MS = timedelta(milliseconds=1)
_QUOTED_NUMBER = re.compile(r"\d+(?:\.\d*)?", re.ASCII)  # "1795256130250": a firmware's "%llu" in quotes


def _depth(obj: Any, limit: int) -> int:
    """Nesting depth, stopping early past ``limit``."""
    stack = [(obj, 1)]
    deepest = 0
    while stack:
        item, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, d + 1) for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list) and len(item) <= 1000:  # sample arrays are flat numbers
            stack.extend((v, d + 1) for v in item if isinstance(v, (dict, list)))
    return deepest


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProtocolError(Reason.SCHEMA, f"{where}: expected a number, got {type(value).__name__}")
    try:
        out = float(value)
    except OverflowError:
        raise ProtocolError(Reason.SCHEMA, f"{where}: integer too large for a 64-bit float") from None
    if not math.isfinite(out):
        raise ProtocolError(Reason.NON_FINITE, f"{where} is not a finite number")
    return out


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(Reason.SCHEMA, f"{where}: expected an integer, got {type(value).__name__}")
    if not 0 <= value < 2**63:
        raise ProtocolError(Reason.SCHEMA, f"{where}: {value} is out of range 0..2^63-1")
    return value


def _timestamp(value: Any, where: str, now_s: float, limits: Limits) -> int:
    if isinstance(value, str):
        form = _RFC3339.fullmatch(value.strip())
        if form is None and _QUOTED_NUMBER.fullmatch(value.strip()):
            raise ProtocolError(Reason.SCHEMA, f"{where}: {value[:40]!r} is a number in a string: send epoch "
                                               "milliseconds as a JSON number, without quotes, or an RFC 3339 string "
                                               "(like '2023-11-14T22:13:20.250Z')")
        if form is None:
            raise ProtocolError(Reason.SCHEMA, f"{where}: {value[:40]!r} is not an RFC 3339 timestamp "
                                               "(like '2023-11-14T22:13:20.250Z' or '2023-11-14T23:13:20+01:00')")
        if form["offset"] is None:
            raise ProtocolError(Reason.SCHEMA, f"{where}: RFC 3339 timestamp needs a UTC offset or 'Z'")
        offset = "+00:00" if form["offset"] in ("Z", "z") else form["offset"]
        try:  # the form is right; the calendar and the clock may not be (February 30th, 24:00, a leap second)
            dt = datetime.fromisoformat(f"{form['date']}T{form['time']}{offset}")
        except ValueError:
            raise ProtocolError(Reason.SCHEMA, f"{where}: {value[:40]!r} is not an RFC 3339 timestamp") from None
        ts_ms = (dt - _EPOCH) // _MS  # exact; digits beyond the millisecond are dropped, as for numbers
        if ts_ms < limits.min_ts_ms:
            raise ProtocolError(Reason.SCHEMA, f"{where}: {value[:40]!r} is before 2000-01-01")
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProtocolError(
            Reason.SCHEMA, f"{where}: expected an RFC 3339 string or epoch milliseconds, got {type(value).__name__}"
        )
    else:
        if isinstance(value, float) and not math.isfinite(value):
            raise ProtocolError(Reason.NON_FINITE, f"{where} is not a finite number")
        if value >= 2**63:
            raise ProtocolError(Reason.FUTURE_TIMESTAMP, f"{where} is beyond any epoch-millisecond clock")
        if value < 0:
            raise ProtocolError(Reason.SCHEMA, f"{where}: negative epoch milliseconds")
        ts_ms = int(value)
    latest_ms = (now_s + limits.future_tolerance_s) * 1000
    if ts_ms < limits.min_ts_ms:
        if limits.min_ts_ms <= value * 1000 <= latest_ms:
            raise ProtocolError(Reason.SCHEMA, f"{where}: {ts_ms} ms is before 2000-01-01 (is it in seconds?)")
        # A firmware sending before its clock is set (milliseconds since boot, an RTC at 1970) was asked
        # whether it sent seconds.
        raise ProtocolError(Reason.SCHEMA, f"{where}: {ts_ms} ms is before 2000-01-01: the unit's clock is not set "
                                           "(time since boot, or no NTP/SNTP yet); send once it is")
    if ts_ms > latest_ms:
        if not isinstance(value, str):
            # A clock read in the wrong unit (tv_sec * 1000000 + tv_usec) was "56,000 years in the future", and
            # three such units made the rejection log blame the server's clock (ingest.service._clock_hint).
            for factor, unit in ((1000, "microseconds"), (1_000_000, "nanoseconds")):
                if limits.min_ts_ms <= ts_ms // factor <= latest_ms:
                    raise ProtocolError(Reason.FUTURE_TIMESTAMP, f"{where}: {ts_ms} looks like epoch {unit}, not "
                                                                 f"milliseconds; send {ts_ms // factor}")
        ahead = ts_ms / 1000 - now_s
        raise ProtocolError(
            Reason.FUTURE_TIMESTAMP,
            f"{where} is {ahead:.0f} s in the future (more than {limits.future_tolerance_s:.0f} s allowed)",
        )
    return ts_ms


def _expect_object(obj: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...]) -> dict:
    """``where`` is the record's prefix ('' for the message itself, '[3].' in a batch)."""
    prefix = f"{where.rstrip('.')}: " if where else ""
    if not isinstance(obj, dict):
        raise ProtocolError(Reason.SCHEMA, f"{prefix}expected a JSON object, got {type(obj).__name__}")
    missing = [k for k in required if k not in obj]
    if missing:
        raise ProtocolError(Reason.SCHEMA, f"{prefix}missing field(s) {', '.join(missing)}")
    unknown = [k for k in obj if k not in required and k not in optional]
    if unknown:
        shown = ", ".join(repr(k[:32]) for k in unknown[:5])
        raise ProtocolError(Reason.SCHEMA, f"{prefix}unknown field(s) {shown}")
    return obj


def _telemetry_record(obj: Any, where: str, now_s: float, limits: Limits) -> TelemetryRecord:
    obj = _expect_object(obj, where, ("ts", "seq", "values"), ())
    values = obj["values"]
    if not isinstance(values, dict) or not values:
        raise ProtocolError(Reason.SCHEMA, f"{where}values: expected a non-empty object of name: number")
    if len(values) > limits.max_values:
        raise ProtocolError(Reason.TOO_LARGE, f"{where}values: {len(values)} names, at most {limits.max_values}")
    out: dict[str, float] = {}
    for name, value in values.items():
        if not _VALUE_NAME.fullmatch(name):
            raise ProtocolError(Reason.SCHEMA, f"{where}values: name {name[:70]!r} does not match {_VALUE_NAME.pattern}")
        if name in RESERVED_VALUE_NAMES:
            raise ProtocolError(Reason.SCHEMA, f"{where}values: name {name!r} is reserved ({', '.join(RESERVED_VALUE_NAMES)} "
                                               "are the stored points' tags and timestamp); give the value another "
                                               f"name with its unit, e.g. '{name}_temperature_c'")
        out[name] = _number(value, f"{where}values.{name}")
    return TelemetryRecord(
        ts_ms=_timestamp(obj["ts"], f"{where}ts", now_s, limits), seq=_int(obj["seq"], f"{where}seq"), values=out
    )


def _samples(obj: dict, limits: Limits) -> np.ndarray:
    has_list, has_b64 = "samples" in obj, "samples_b64" in obj
    if has_list == has_b64:
        raise ProtocolError(Reason.SCHEMA, "exactly one of samples or samples_b64 is required")
    if has_b64:
        raw = obj["samples_b64"]
        if not isinstance(raw, str):
            raise ProtocolError(Reason.SCHEMA, "samples_b64: expected a base64 string")
        try:
            blob = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError(Reason.SCHEMA, f"samples_b64: {_base64_problem(raw)}") from None
        if len(blob) % 4:
            raise ProtocolError(Reason.SCHEMA, f"samples_b64: {len(blob)} bytes is not a whole number of float32")
        if len(blob) // 4 > limits.max_samples:
            raise ProtocolError(Reason.TOO_LARGE, f"samples_b64: {len(blob) // 4} samples, at most {limits.max_samples}")
        return _float32_samples(blob)
    raw = obj["samples"]
    if not isinstance(raw, list):
        raise ProtocolError(Reason.SCHEMA, f"samples: expected an array of numbers, got {type(raw).__name__}")
    if len(raw) > limits.max_samples:
        raise ProtocolError(Reason.TOO_LARGE, f"samples: {len(raw)} samples, at most {limits.max_samples}")
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in raw):
        raise ProtocolError(Reason.SCHEMA, "samples: every element must be a number")
    try:
        arr = np.asarray(raw, dtype=np.float64)
    except OverflowError:
        raise ProtocolError(Reason.SCHEMA, "samples: an integer is too large for a 64-bit float") from None
    if arr.size == 0:
        raise ProtocolError(Reason.SCHEMA, "samples: at least one sample is required")
    if not np.all(np.isfinite(arr)):
        raise ProtocolError(Reason.NON_FINITE, "samples contain NaN or infinity")
    if np.any(np.abs(arr) > np.finfo(np.float32).max):
        raise ProtocolError(Reason.NON_FINITE, "samples exceed the float32 range")
    return arr.astype(np.float32)


def _float32_samples(blob: bytes) -> np.ndarray:
    """The decoded bytes of ``samples_b64`` as float32 samples, or a :class:`ProtocolError`.

    A NaN or infinity here is almost always another encoding read as little-endian float32: big-endian
    floats, float64 or integers put random bits into the exponent, so a snapshot of thousands of samples
    nearly always holds some. The detail says so, with the first such sample's bytes, because "samples
    contain NaN or infinity" alone sent a firmware team looking for NaN its sensor never produced.
    Checked on the float32 values themselves: widening a signalling NaN to float64 made numpy print a
    RuntimeWarning on the service's stderr.
    """
    arr = np.frombuffer(blob, dtype="<f4")
    if arr.size == 0:
        raise ProtocolError(Reason.SCHEMA, "samples: at least one sample is required")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.argmax(bad))
        raise ProtocolError(
            Reason.NON_FINITE,
            f"samples contain NaN or infinity: {int(bad.sum())} of {arr.size}, the first at index {first} "
            f"(bytes {blob[4 * first:4 * first + 4].hex(' ')}). Unless the sensor sends NaN, samples_b64 is not "
            "little-endian float32: big-endian, float64 or integer samples read as such give NaN and absurd values",
        )
    return arr.copy()


_BASE64_OUTSIDE = re.compile(r"[^A-Za-z0-9+/=]")


def _base64_problem(text: str) -> str:
    """What is wrong with ``text`` that standard base64 with padding refused, as a firmware engineer needs it."""
    if bad := _BASE64_OUTSIDE.search(text):
        return (f"character {bad.group()!r} at position {bad.start()} is not standard base64 (RFC 4648 section 4: "
                "A-Z a-z 0-9 + / and '=' padding; not the URL-safe - and _, no line breaks or spaces)")
    if len(text) % 4:
        return f"{len(text)} characters is not a multiple of 4 (the '=' padding is required)"
    return "not valid base64 ('=' only as padding at the end)"


def _vibration(obj: Any, now_s: float, limits: Limits) -> VibrationSnapshot:
    obj = _expect_object(obj, "", ("ts", "seq", "axis", "unit", "fs"), ("rpm", "samples", "samples_b64"))
    axis = obj["axis"]
    if axis not in AXES:
        raise ProtocolError(Reason.SCHEMA,
                            f"axis: {_shown(axis)} is not one of {', '.join(AXES)}{_case_hint(axis, AXES)}")
    if obj["unit"] != "g":
        raise ProtocolError(Reason.SCHEMA, f"unit: {_shown(obj['unit'])} is not supported: protocol v1 takes "
                                           "acceleration in g only ('g'; 1 g = 9.80665 m/s²: divide m/s² by 9.80665)")
    fs = _number(obj["fs"], "fs")
    if not limits.min_fs <= fs <= limits.max_fs:
        raise ProtocolError(Reason.SCHEMA, f"fs: {fs:g} Hz is outside {limits.min_fs:g}..{limits.max_fs:g} Hz")
    rpm = obj.get("rpm")
    if rpm is not None:
        rpm = _number(rpm, "rpm")
        if not 0 <= rpm <= 200_000:
            raise ProtocolError(Reason.SCHEMA, f"rpm: {rpm:g} is outside 0..200000")
    return VibrationSnapshot(
        ts_ms=_timestamp(obj["ts"], "ts", now_s, limits),
        seq=_int(obj["seq"], "seq"),
        axis=axis,
        fs=fs,
        samples=_samples(obj, limits),
        rpm=rpm,
    )


_STATES = ("online", "offline")


def _shown(value: Any) -> str:
    """A refused value as the detail shows it: a string quoted, anything cut to 40 characters."""
    text = repr(value[:40]) if isinstance(value, str) else json.dumps(value)[:40]
    return text + ("..." if isinstance(value, str) and len(value) > 40 else "")


def _case_hint(value: Any, allowed: tuple[str, ...]) -> str:
    return " (lower case)" if isinstance(value, str) and value not in allowed and value.lower() in allowed else ""


def _status(obj: Any, now_s: float, limits: Limits) -> StatusMessage:
    if isinstance(obj, str) and obj.lower() in _STATES:  # "offline": the state's word alone, in JSON quotes
        raise ProtocolError(Reason.SCHEMA, f'expected a JSON object, got str: a status is {{"state":"{obj.lower()}"}}, '
                                           f"not {json.dumps(obj)}")
    obj = _expect_object(obj, "", ("state",), ("ts", "firmware"))
    if obj["state"] not in _STATES:
        raise ProtocolError(Reason.SCHEMA, f"state: {_shown(obj['state'])} is not 'online' or 'offline'"
                                           f"{_case_hint(obj['state'], _STATES)}")
    firmware = obj.get("firmware")
    if firmware is not None and (not isinstance(firmware, str) or not 1 <= len(firmware) <= 64):
        # An empty string is no version: recorded, it made a firmware group '' beside the units without one.
        raise ProtocolError(Reason.SCHEMA, "firmware: expected a string of 1 to 64 characters (leave it out when unknown)")
    if firmware is not None and (problem := firmware_problem(firmware)):
        raise ProtocolError(Reason.SCHEMA, f"firmware: {problem}")
    ts = obj.get("ts")
    return StatusMessage(
        state=obj["state"], ts_ms=None if ts is None else _timestamp(ts, "ts", now_s, limits), firmware=firmware
    )


def parse_message(
    topic_name: str,
    payload: bytes,
    *,
    received_at: float,
    root: str = "foreshock",
    limits: Limits = DEFAULT_LIMITS,
) -> ParsedMessage:
    """Parse one MQTT message. Raises :class:`ProtocolError` with a :class:`Reason`.

    ``received_at`` is the platform's clock (epoch seconds), used for the future-timestamp check.
    """
    device_id, kind = parse_topic(topic_name, root)
    if len(payload) > limits.max_payload_bytes:
        raise ProtocolError(Reason.TOO_LARGE, f"payload is {len(payload)} bytes, at most {limits.max_payload_bytes}")
    # Both were `Expecting value: line 1 column 1 (char 0)`: a BOM cannot be seen in the dead letter.
    if not payload:
        raise ProtocolError(Reason.BAD_JSON, "empty payload: expected one JSON document")
    if payload.startswith(b"\xef\xbb\xbf"):
        raise ProtocolError(Reason.BAD_JSON, "the payload starts with a UTF-8 byte-order mark (EF BB BF); "
                                             "send the JSON without it")
    if payload.endswith(b"\x00"):
        # C firmware publishing strlen() + 1 or sizeof(buffer) bytes: the dead letter read "Extra data: line 1
        # column 55", and the NUL cannot be seen in the stored payload.
        zeros = len(payload) - len(payload.rstrip(b"\x00"))
        raise ProtocolError(Reason.BAD_JSON, f"the payload ends with {zeros} NUL byte(s) (00) after byte "
                                             f"{len(payload) - zeros}: a C string's terminator or the rest of a "
                                             "buffer; publish only the JSON text's bytes (strlen, not sizeof)")
    try:
        # Strict UTF-8 first: json.loads on bytes lets lone surrogates through, which later
        # cannot be encoded (e.g. into PostgreSQL).
        text = payload.decode("utf-8")
        doc = _DECODER.decode(text)
    except ProtocolError:
        raise
    except json.JSONDecodeError as exc:
        raise ProtocolError(Reason.BAD_JSON, _json_problem(exc, kind)) from None
    except RecursionError:
        raise ProtocolError(Reason.TOO_LARGE, "payload is nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise ProtocolError(Reason.BAD_JSON, f"not valid UTF-8: {exc.reason} at byte {exc.start}") from None
    except ValueError as exc:
        if "integer string conversion" in str(exc):  # valid JSON: Python's own limit on int() of a long literal
            raise ProtocolError(Reason.SCHEMA, "a number has more digits than any field can hold "
                                               f"(over {sys.get_int_max_str_digits()})") from None
        raise ProtocolError(Reason.BAD_JSON, f"not valid JSON: {str(exc)[:120]}") from None
    if _depth(doc, _MAX_DEPTH) > _MAX_DEPTH:
        raise ProtocolError(Reason.SCHEMA, f"payload is nested deeper than {_MAX_DEPTH} levels")
    if kind == "telemetry":
        if isinstance(doc, list):
            if not doc:
                raise ProtocolError(Reason.SCHEMA, "empty batch: expected 1 to 1000 records")
            if len(doc) > limits.max_batch:
                raise ProtocolError(Reason.TOO_LARGE, f"batch of {len(doc)} records, at most {limits.max_batch}")
            records = tuple(_telemetry_record(r, f"[{i}].", received_at, limits) for i, r in enumerate(doc))
        else:
            records = (_telemetry_record(doc, "", received_at, limits),)
        return ParsedMessage(device_id, "telemetry", records=records)
    if kind == "vibration":
        return ParsedMessage(device_id, "vibration", snapshot=_vibration(doc, received_at, limits))
    return ParsedMessage(device_id, "status", status=_status(doc, received_at, limits))


# What may follow where the decoder stopped when the payload was cut short: nothing, or the start of a number
# ("41." of 41.7) or of a literal ("tru")
_CUT_TOKEN = re.compile(r"[0-9.eE+-]*|t(?:r(?:u)?)?|f(?:a(?:l(?:s)?)?)?|n(?:u(?:l)?)?", re.ASCII)


def _json_problem(exc: json.JSONDecodeError, kind: str) -> str:
    """What is wrong with a payload that is no JSON document, as firmware makes it: Python's decoder says
    where it stopped (``Expecting ',' delimiter: line 1 column 57 (char 56)``), not what happened."""
    text, pos = exc.doc, exc.pos
    at = len(text[:pos].encode("utf-8"))  # the byte, as the firmware counts
    body = text.strip()
    if not body:
        return "the payload is only white space: expected one JSON document"
    if _CUT_TOKEN.fullmatch(text[pos:].rstrip()) or exc.msg.startswith("Unterminated string"):
        # snprintf into a buffer too small truncates; the firmware then publishes what it has
        return (f"the payload ends before its JSON document does ({len(text.encode('utf-8'))} bytes): cut short? "
                "A buffer too small for the message (snprintf truncates), or a publish of part of it "
                f"({exc.msg} at byte {at})")
    if exc.msg == "Extra data":
        return (f"not valid JSON: a second JSON document (or other text) follows the first at byte {at}: send "
                "several records as one JSON array (a batch), a snapshot as a message of its own")
    if pos == 0:
        if kind == "status" and body.lower() in _STATES:
            # Many MQTT firmwares publish presence (and their last will) as plain text
            return (f"the payload is the text {body[:20]!r}, not JSON: a status is a JSON object, "
                    f'{{"state":"{body.lower()}"}} (the last will too)')
        return f"not valid JSON: {exc.msg} at byte 0: the payload begins {body[:40]!r}"
    return f"not valid JSON: {str(exc)[:120]}"


# ---------------------------------------------------------------------------------------------
# Building payloads (devices, the simulator, tests)


def _ts_ms(ts: float | int | datetime) -> int:
    if isinstance(ts, datetime):
        return int(round(ts.timestamp() * 1000))
    return int(ts)


def telemetry_payload(ts_ms: int | datetime, seq: int, values: dict[str, float]) -> bytes:
    """One telemetry record as JSON bytes."""
    return json.dumps({"ts": _ts_ms(ts_ms), "seq": seq, "values": values}, separators=(",", ":")).encode()


def telemetry_batch_payload(records: list[tuple[int, int, dict[str, float]]]) -> bytes:
    """Several ``(ts_ms, seq, values)`` records as one JSON array (at most 1000)."""
    doc = [{"ts": _ts_ms(ts), "seq": seq, "values": values} for ts, seq, values in records]
    return json.dumps(doc, separators=(",", ":")).encode()


def vibration_payload(
    ts_ms: int | datetime,
    seq: int,
    samples: np.ndarray,
    fs: float,
    *,
    axis: str = "x",
    rpm: float | None = None,
    binary: bool = True,
) -> bytes:
    """One waveform snapshot (acceleration in g) as JSON bytes; base64 float32 unless ``binary=False``."""
    doc: dict[str, Any] = {"ts": _ts_ms(ts_ms), "seq": seq, "axis": axis, "unit": "g", "fs": fs}
    if rpm is not None:
        doc["rpm"] = rpm
    arr = np.asarray(samples, dtype="<f4")
    if binary:
        doc["samples_b64"] = base64.b64encode(arr.tobytes()).decode("ascii")
    else:
        doc["samples"] = [float(v) for v in arr]
    return json.dumps(doc, separators=(",", ":")).encode()


def status_payload(state: Literal["online", "offline"], ts_ms: int | None = None, firmware: str | None = None) -> bytes:
    doc: dict[str, Any] = {"state": state}
    if ts_ms is not None:
        doc["ts"] = _ts_ms(ts_ms)
    if firmware is not None:
        doc["firmware"] = firmware
    return json.dumps(doc, separators=(",", ":")).encode()


def health_payload(
    state: str, ts_ms: int, *, failure_mode: str | None = None, ttf_s: float | None = None, reasons: list[str] = ()
) -> bytes:
    """What the platform publishes (retained) on ``.../health`` when a unit's state changes."""
    if state not in HEALTH_STATES:
        raise ValueError(f"unknown health state {state!r}")
    doc = {"state": state, "ts": ts_ms, "failure_mode": failure_mode, "ttf_s": ttf_s, "reasons": list(reasons)}
    return json.dumps(doc, separators=(",", ":")).encode()


def now_ms() -> int:
    return int(datetime.now(timezone.utc).timestamp() * 1000)
