"""What the alert loop needs to know of a unit, read defensively from the devices registry.

The registry (``devices.registry.Registry``) may be absent, may not know the unit, or may
expose the model as a name or as an object: whatever is missing becomes ``None``.

>>> class U: model = type("M", (), {"name": "P-200"})(); customer = "ACME"; firmware_version = "1.2"
>>> class R:
...     def get_unit(self, device_id): return U()
>>> unit_attrs(R(), "u1")["model"], unit_attrs(R(), "u1")["firmware"], unit_attrs(None, "u1")["site"]
('P-200', '1.2', None)
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["UNIT_FIELDS", "unit_attrs"]

log = logging.getLogger(__name__)

UNIT_FIELDS = ("model", "customer", "site", "firmware", "batch")
_ALIASES = {
    "model": ("model", "model_name", "model_code", "model_id"),
    "customer": ("customer", "customer_name"),
    "site": ("site", "site_name", "location"),
    "firmware": ("firmware", "firmware_version", "fw_version"),
    "batch": ("batch", "production_batch", "batch_id"),
}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (str, int, float)):
        return str(value) or None
    for attr in ("name", "code", "id"):
        inner = getattr(value, attr, None)
        if isinstance(inner, (str, int)):
            return str(inner)
    return None


def unit_attrs(registry: Any, device_id: str) -> dict[str, str | None]:
    out: dict[str, str | None] = dict.fromkeys(UNIT_FIELDS)
    if registry is None or not hasattr(registry, "get_unit"):
        return out
    try:
        unit = registry.get_unit(device_id)
        if unit is None:
            return out
        for key, names in _ALIASES.items():
            for name in names:
                value = _text(unit.get(name) if isinstance(unit, dict) else getattr(unit, name, None))
                if value:
                    out[key] = value
                    break
    except Exception:
        log.warning("registry lookup of %s failed; alerting without unit data", device_id, exc_info=True)
    return out
