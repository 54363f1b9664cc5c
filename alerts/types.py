"""What the alert service reports back: one :class:`Change` per thing that happened."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["Change", "ChangeKind"]

ChangeKind = Literal[
    "alert_raised", "alert_escalated", "alert_cleared", "alert_suppressed", "alert_acknowledged",
    "ticket_opened", "ticket_joined", "ticket_regraded", "ticket_escalated", "repeat_failure",
    "fleet_ticket_opened", "fleet_ticket_linked", "sla_breached", "unit_silent",
]


@dataclass(frozen=True)
class Change:
    """One effect of an assessment or a tick.

    ``kind`` says what happened; ``ticket`` is the PF number when a ticket is involved.

    >>> Change("alert_raised", "u1", "imbalance", severity="warning").kind
    'alert_raised'
    """

    kind: ChangeKind
    device_id: str | None
    failure_mode: str | None
    severity: str | None = None
    grade: str | None = None
    alert_id: int | None = None
    ticket: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    as_dict = to_dict
