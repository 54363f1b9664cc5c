"""Provisioning: each unit's own MQTT credential, stored as a Mosquitto ``$7$`` hash.

:meth:`~ProvisioningMixin.provision` generates a password, stores only its hash and returns the
password (shown once); :meth:`~ProvisioningMixin.revoke` removes the credential. Neither touches
the broker: :func:`devices.broker_config.write_broker_config` writes the password file and ACL
from :meth:`~ProvisioningMixin.broker_credentials`, and the broker then reloads them (SIGHUP).
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from devices.credentials import generate_password, hash_password, verify_password
from devices.errors import InvalidInput, RegistryError
from devices.models import Unit
from foreshock.db import utcnow

__all__ = ["ProvisioningMixin", "check_broker_username"]

log = logging.getLogger(__name__)


def check_broker_username(device_id: str) -> str:
    """``device_id`` if it can be a Mosquitto username in the password file and ACL."""
    if ":" in device_id:
        raise InvalidInput("device_id", f"{device_id!r} contains ':', which the Mosquitto password file cannot hold")
    return device_id


class ProvisioningMixin:
    """Credential methods of :class:`devices.registry.Registry`."""

    def _session(self, write: bool = False) -> AbstractContextManager[Session]:  # pragma: no cover - abstract
        raise NotImplementedError

    if TYPE_CHECKING:  # provided by the Registry (and devices.serials.SerialsMixin)
        def _unit_row(self, session: Session, device_id: str) -> Unit: ...

        def _case_twins(self, session: Session, serial: str, *, in_service: bool = False) -> list[Unit]: ...

    def provision(self, device_id: str) -> str:
        """Give unit ``device_id`` a new MQTT password (replacing any previous one); returns it.

        The password is not stored: show it once, to be loaded into the unit.
        """
        check_broker_username(device_id)
        password = generate_password()
        with self._session(write=True) as session:
            unit = self._unit_row(session, device_id)
            if unit.decommissioned_at is not None:
                raise RegistryError(f"unit {device_id!r} is decommissioned and cannot be provisioned")
            if twins := self._case_twins(session, device_id, in_service=True):
                # only a database from before serials were compared regardless of case holds such units
                raise RegistryError(f"unit {device_id!r} is not provisioned: unit {twins[0].device_id!r} in service "
                                    "has the same serial in another letter case (the same machine registered twice); "
                                    f"take the wrong spelling out of service first (foreshock devices decommission)")
            rotated = unit.mqtt_password_hash is not None
            unit.mqtt_password_hash = hash_password(password)
            unit.provisioned_at, unit.revoked_at = utcnow(), None
        log.info("unit %s %s", device_id, "credential rotated" if rotated else "provisioned")
        return password

    def revoke(self, device_id: str) -> bool:
        """Remove unit ``device_id``'s broker credential; returns whether it had one."""
        with self._session(write=True) as session:
            unit = self._unit_row(session, device_id)
            had = unit.mqtt_password_hash is not None
            if had:
                unit.mqtt_password_hash = None
                unit.revoked_at = utcnow()
        log.info("unit %s credential revoked", device_id)
        return had

    def check_password(self, device_id: str, password: str) -> bool:
        """Whether ``password`` is unit ``device_id``'s current credential (False if none)."""
        with self._session() as session:
            hashed = session.scalar(select(Unit.mqtt_password_hash).where(Unit.device_id == device_id))
        return hashed is not None and verify_password(password, hashed)

    def broker_credentials(self) -> list[tuple[str, str]]:
        """``(username, $7$ hash)`` of every provisioned unit in service, sorted by username."""
        stmt = (
            select(Unit.device_id, Unit.mqtt_password_hash)
            .where(Unit.mqtt_password_hash.is_not(None), Unit.decommissioned_at.is_(None))
            .order_by(Unit.device_id)
        )
        with self._session() as session:
            return [(d, h) for d, h in session.execute(stmt).all() if h is not None]
