"""What a unit is and what it may do on the broker.

- :mod:`devices.protocol`: the device protocol v1 (topics, payload schemas, limits), the one
  module shared by ingest, the simulator and the tests; documented in ``docs/device-protocol.md``.
- :mod:`devices.registry`: the registry of sold units and their models (relational store).

Importing this package is cheap: the protocol module needs only numpy.
"""

from __future__ import annotations

__all__: list[str] = []
