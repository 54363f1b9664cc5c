"""From raw MQTT messages to points and hand-off messages: validation, device check, features.

Pure apart from the two callables it is given (``device_check``, ``machine_info``); holds no
per-device state. Every rejected message becomes a :class:`~ingest.deadletter.NewDeadLetter`
with its :class:`~devices.protocol.Reason`.

>>> from ingest.types import RawMessage
>>> conv = Converter(device_check=lambda d: d == "P-1")
>>> ok, bad = conv.convert([
...     RawMessage("foreshock/v1/P-1/telemetry", b'{"ts": 1700000000000, "seq": 1, "values": {"t": 2}}', 1.7e9),
...     RawMessage("foreshock/v1/P-2/telemetry", b'{"ts": 1700000000000, "seq": 1, "values": {"t": 2}}', 1.7e9)])
>>> ok[0].points[0].fields, bad[0].reason
({'t': 2.0}, 'unknown_device')
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import detectors.features as features_module
from detectors.types import MachineInfo, Snapshot
from devices.protocol import DEFAULT_LIMITS, Limits, ParsedMessage, ProtocolError, Reason, parse_message
from foreshock.tsdb.base import FieldValue, Point
from ingest.deadletter import NewDeadLetter
from ingest.types import IngestedMessage, RawMessage

__all__ = ["Accepted", "Converter", "snapshot_points"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Accepted:
    raw: RawMessage
    message: IngestedMessage
    points: list[Point] = field(default_factory=list)


def _features(parsed: ParsedMessage, machine: MachineInfo | None) -> dict[str, float]:
    snap = parsed.snapshot
    assert snap is not None
    compute = getattr(features_module, "snapshot_features", None)
    if compute is not None:
        snapshot = Snapshot(ts=snap.ts_ms / 1000, fs=snap.fs, samples=snap.samples, rpm=snap.rpm, axis=snap.axis)
        try:
            return dict(compute(snapshot, machine or MachineInfo()))
        except ValueError as exc:  # e.g. too few samples for a spectrum: the time features still apply
            log.debug("%s: full features unavailable (%s); time features only", parsed.device_id, exc)
    return features_module.time_features(snap.samples)


def snapshot_points(parsed: ParsedMessage, feats: dict[str, float]) -> list[Point]:
    """The ``vibration`` point of one snapshot: features plus ``fs``, ``n`` and ``rpm``."""
    snap = parsed.snapshot
    assert snap is not None
    values: dict[str, FieldValue] = {k: v for k, v in feats.items() if isinstance(v, (int, float))}
    values["fs"] = float(snap.fs)
    values["n"] = int(snap.samples.size)
    if snap.rpm is not None:
        values["rpm"] = float(snap.rpm)
    return [Point("vibration", {"device": parsed.device_id, "axis": snap.axis}, values, snap.ts_ms)]


class Converter:
    """Validate and convert a batch. ``device_check`` is asked once per device per batch.

    A retained message (``RawMessage.retain``: the broker's stored copy, sent on subscribing) of an
    unknown device is neither accepted nor rejected: it is left out of both lists. A retained copy of
    a registered unit's ``telemetry`` or ``vibration`` (a firmware that set the retain flag, which the
    protocol forbids there) is rejected as ``schema``, naming the flag: it is no new data (the
    original came live, when it was sent), and accepted it counted as the unit seen at every
    reconnect of ingest (clearing its "unit silent" alert) and had the detectors warn that the
    unit's clock went back. Retained ``status`` is the protocol's own and accepted.

    ``auto_register``: ``False`` rejects unknown devices (``unknown_device``); ``True`` accepts
    them; a callable is called with the device id (e.g. ``Registry.auto_register``) and returns
    whether the device is now a unit in service: ``False`` (a decommissioned unit, or a serial
    registered in another letter case, which ``Registry.auto_register`` refuses) rejects its messages
    as ``unknown_device``, naming that; ``None`` (a callable that answers nothing) accepts them.
    ``device_check`` may raise (registry unreachable): the whole batch is then retried by the caller.
    """

    def __init__(
        self,
        *,
        device_check: Callable[[str], bool] | None,
        auto_register: bool | Callable[[str], bool | None] = False,
        machine_info: Callable[[str], MachineInfo | None] | None = None,
        topic_root: str = "foreshock",
        limits: Limits = DEFAULT_LIMITS,
        store_status: bool = False,
    ) -> None:
        self.device_check = device_check
        self.auto_register = auto_register
        self.machine_info = machine_info
        self.topic_root = topic_root
        self.limits = limits
        self.store_status = store_status

    def convert(self, raws: list[RawMessage]) -> tuple[list[Accepted], list[NewDeadLetter]]:
        accepted: list[Accepted] = []
        rejected: list[NewDeadLetter] = []
        parsed_ok: list[tuple[RawMessage, ParsedMessage]] = []
        for raw in raws:
            try:
                parsed = parse_message(raw.topic, raw.payload, received_at=raw.received_at, root=self.topic_root,
                                       limits=self.limits)
            except ProtocolError as exc:
                rejected.append(_dead(raw, exc.reason, exc.detail))
                continue
            except (ValueError, ArithmeticError, TypeError, RecursionError) as exc:
                # A parser bug must not stall ingest: without this the batch would be retried forever.
                log.error("protocol parser raised %s on %s; dead-lettered as schema", type(exc).__name__, raw.topic)
                rejected.append(_dead(raw, Reason.SCHEMA, f"payload not parseable ({type(exc).__name__}: {exc})"[:500]))
                continue
            parsed_ok.append((raw, parsed))
        unknown = self._unknown({p.device_id for _, p in parsed_ok})
        machines: dict[str, MachineInfo | None] = {}
        for raw, parsed in parsed_ok:
            device = parsed.device_id
            if device in unknown:
                if raw.retain:
                    # The broker's stored copy (a decommissioned unit's last status), handed to every
                    # new subscription: not new traffic. Dead-lettering it would add one more dead
                    # letter per unit at every restart; the caller counts it as ignored.
                    log.debug("retained %s of unregistered device %s ignored", parsed.kind, device)
                    continue
                rejected.append(_dead(raw, Reason.UNKNOWN_DEVICE, unknown[device], device))
                continue
            if raw.retain and parsed.kind != "status":
                rejected.append(_dead(raw, Reason.SCHEMA, _retained_detail(parsed.kind, raw.topic), device))
                continue
            feats: dict[str, float] | None = None
            if parsed.kind == "telemetry":
                points = [Point("telemetry", {"device": device}, dict(r.values), r.ts_ms) for r in parsed.records]
            elif parsed.kind == "vibration":
                if device not in machines:
                    machines[device] = self.machine_info(device) if self.machine_info else None
                try:
                    feats = _features(parsed, machines[device])
                except (ValueError, ArithmeticError) as exc:
                    rejected.append(_dead(raw, Reason.SCHEMA, f"features cannot be computed: {exc}", device))
                    continue
                points = snapshot_points(parsed, feats)
            else:
                points = self._status_points(parsed)
            message = IngestedMessage(device, parsed.kind, parsed, feats, raw.received_at, raw.topic, raw.retain)
            accepted.append(Accepted(raw, message, points))
        return accepted, rejected

    def _status_points(self, parsed: ParsedMessage) -> list[Point]:
        status = parsed.status
        if not self.store_status or status is None or status.ts_ms is None:
            return []
        return [Point("status", {"device": parsed.device_id}, {"online": status.state == "online"}, status.ts_ms)]

    def _unknown(self, devices: set[str]) -> dict[str, str]:
        """The devices whose messages are rejected, each with the dead letter's detail."""
        if self.device_check is None:
            return {}
        unknown = {}
        for device in devices:
            if self.device_check(device):
                continue
            if not self.auto_register:
                # "is not registered" was said of a decommissioned unit too (it still sends until the broker
                # config is written and reloaded), which `devices show` shows registered
                unknown[device] = (f"device {device!r} is not a unit in service: not registered, decommissioned, "
                                   "or registered in another letter case (a unit publishes under its serial as "
                                   f"registered, its broker username); `foreshock devices show {device}` says which")
                continue
            # Registry.auto_register answers False for a decommissioned unit (it stays out of service)
            # and for another letter case of a registered serial (p-0002 beside P-0002); their messages
            # were accepted, stored and handed on all the same
            if callable(self.auto_register) and self.auto_register(device) is False:
                unknown[device] = (f"device {device!r} is not a unit in service and auto-registration refused it: "
                                   "its serial is that of a decommissioned unit, or is registered in another "
                                   "letter case (serial numbers are the same whatever their letter case; a unit "
                                   "publishes under its serial as registered, its broker username); the "
                                   "registry's warning in the log says which")
                continue
            log.info("device %s auto-registered", device)
        return unknown


def _retained_detail(kind: str, topic: str) -> str:
    return (f"retained copy: the unit published this {kind} with the retain flag, so the broker hands it to "
            f"Foreshock again at every reconnect; not stored again (it was handled when it was sent). Publish "
            f"{kind} without the retain flag, and clear this copy with an empty retained message to {topic[:200]}")


def _dead(raw: RawMessage, reason: Reason, detail: str, device: str | None = None) -> NewDeadLetter:
    if device is None:
        parts = raw.topic.split("/")
        device = parts[2][:64] if len(parts) == 4 else None
    return NewDeadLetter(reason.value, raw.topic, raw.payload, raw.received_at, device, detail)
