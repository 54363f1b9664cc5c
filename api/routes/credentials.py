"""Broker credentials of units (admin): provision or rotate (the password is returned once), revoke.

After a change, regenerate the broker's password file and ACL (``foreshock devices write-broker-config``)
and reload Mosquitto so that it picks them up (docs/devices.md).
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import Admin, ContextDep
from api.routes.units import registry_of, unit_serial

router = APIRouter(prefix="/units", tags=["credentials"])


class Credential(BaseModel):
    device_id: str
    username: str
    password: str = Field(description="shown only in this response; only its hash is stored")


class Revoked(BaseModel):
    device_id: str
    revoked: bool = Field(description="false when the unit had no credential")


@router.post("/{device_id}/credentials", response_model=Credential, summary="Provision or rotate a unit's MQTT password")
def provision(device_id: str, ctx: ContextDep, tok: Admin) -> dict:
    device_id = unit_serial(ctx, device_id)  # the broker compares usernames exactly: the serial as registered
    password = registry_of(ctx).provision(device_id)
    return {"device_id": device_id, "username": device_id, "password": password}


@router.delete("/{device_id}/credentials", response_model=Revoked, summary="Revoke a unit's MQTT password")
def revoke(device_id: str, ctx: ContextDep, _: Admin) -> dict:
    device_id = unit_serial(ctx, device_id)
    return {"device_id": device_id, "revoked": registry_of(ctx).revoke(device_id)}
