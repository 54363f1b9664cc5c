"""What a unit is and what it may do on the broker.

- :mod:`devices.protocol`: the device protocol v1 (topics, payload schemas, limits), the one
  module shared by ingest, the simulator and the tests; documented in ``docs/device-protocol.md``.
- :mod:`devices.registry`: :class:`~devices.registry.Registry`, the registry of sold units and
  their machine models (relational store): CRUD, the cached ``is_known`` ingest asks for every
  message, ``machine_info`` for the detectors, presence and the silent-unit deadman
  (:mod:`devices.presence`), per-unit MQTT credentials (:mod:`devices.provisioning`).
- :mod:`devices.models` (tables), :mod:`devices.schemas` (validated input), :mod:`devices.errors`.
- :mod:`devices.broker_config`: Mosquitto password file and ACL from the registry.
- :mod:`devices.csvio`: CSV import (all or nothing) and export of units.
- :mod:`devices.query` (``UnitFilter``, serial ranges), :mod:`devices.mapping` (rows to ``MachineInfo``).
- :mod:`devices.cli` (with :mod:`devices.cli_models`, :mod:`devices.cli_broker`): ``foreshock devices ...``.

Importing this package is cheap: the protocol module needs only numpy.
"""

from __future__ import annotations

__all__: list[str] = []
