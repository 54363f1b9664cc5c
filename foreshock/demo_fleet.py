"""Put a simulated fleet into the registry, as a manufacturer would register the units it sold.

The demo and the end-to-end tests use this so that the detectors get each unit's machine data
(rated speed, bearing geometry, ISO group) exactly as they would for real units.
"""

from __future__ import annotations

from typing import Any

__all__ = ["register_fleet"]


def register_fleet(registry: Any, fleet: Any, *, customer: str = "Demo Customer") -> int:
    """Create the fleet's models and units in ``registry`` (skipping those that exist); returns the unit count."""
    from devices.errors import AlreadyExists

    for model in fleet.models.values():
        b = model.bearing
        try:
            registry.create_model(
                model.name,
                description=f"simulated {model.name}",
                rated_rpm=model.rated_rpm,
                bearing={"n_balls": b.n_balls, "ball_d": b.ball_d, "pitch_d": b.pitch_d, "contact_deg": b.contact_deg},
                iso_group=model.iso_group,
                foundation=model.foundation,
                reporting_interval_s=fleet.telemetry_interval_s,
            )
        except AlreadyExists:
            pass
    sites = ("Plant North", "Plant South")
    for i, unit in enumerate(fleet.units):
        try:
            registry.create_unit(
                unit.unit_id,
                model=unit.model.name,
                customer=customer,
                site=sites[i % len(sites)],
                firmware=unit.firmware,
                batch=unit.batch,
            )
        except AlreadyExists:
            pass
    return len(fleet.units)
