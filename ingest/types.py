"""The values that cross ingest's boundaries: raw messages in, ingested messages out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from devices.protocol import ParsedMessage

__all__ = ["IngestError", "IngestedMessage", "RawMessage"]


class IngestError(RuntimeError):
    """Ingest cannot run (broker unreachable at start, bad subscription, ...)."""


class RawMessage(NamedTuple):
    """One MQTT message as the network callback saw it; ``mid``/``qos`` are for the acknowledgement.

    ``connection`` counts the source's connections: a packet id means something only on the
    connection it came on (a broker that lost the session numbers new messages from 1 again).
    A named tuple: the network thread builds one per message, and this is the cheapest.
    """

    topic: str
    payload: bytes
    received_at: float  # epoch seconds, the platform's clock
    mid: int = 0
    qos: int = 0
    retain: bool = False
    connection: int = 0


@dataclass(frozen=True, slots=True)
class IngestedMessage:
    """A valid message after it was stored (or spooled): what the rest of the pipeline gets.

    ``features`` holds the vibration features per snapshot (``None`` for telemetry and status).
    """

    device_id: str
    kind: Literal["telemetry", "vibration", "status"]
    parsed: ParsedMessage
    features: dict[str, float] | None
    received_at: float
    topic: str
    # the broker's stored copy, handed to the platform when it subscribes (not a message the unit sent now)
    retained: bool = False
