"""The simulator: a fleet of physically plausible machines that fail, with ground truth.

- :mod:`simulator.models`: machine models (rated speed, bearing geometry, resonance, ISO group,
  sensor) and the catalogue (``P-1800`` pump, ``F-3000`` fan, ``G-300`` conveyor gearbox).
- :mod:`simulator.fleet`: a fleet from TOML (:func:`~simulator.fleet.load_fleet`),
  :func:`~simulator.fleet.demo_fleet`.
- :mod:`simulator.waveform`, :mod:`simulator.scalars`: the physics (snapshots, scalar telemetry).
- :mod:`simulator.faults`: machine faults that grow to failure; sensor and network faults.
- :mod:`simulator.stream`: the messages a fleet sends, in order, with the sensor faults applied.
- :mod:`simulator.publisher`: :class:`~simulator.publisher.FleetPublisher` over MQTT.
- :mod:`simulator.files`: the same streams into dataset files; :mod:`simulator.replay`: a dataset
  replayed as a device. :mod:`simulator.truth`: the ground truth JSON.

The simulator shares only the device protocol (:mod:`devices.protocol`) with the platform.
"""

__all__ = ["Fleet", "FleetPublisher", "Truth", "demo_fleet", "load_fleet"]


def __getattr__(name: str):  # lazy: importing the package does not pull in paho or numpy
    if name in ("load_fleet", "demo_fleet", "Fleet"):
        from simulator import fleet

        return getattr(fleet, name)
    if name == "FleetPublisher":
        from simulator.publisher import FleetPublisher

        return FleetPublisher
    if name == "Truth":
        from simulator.truth import Truth

        return Truth
    raise AttributeError(name)
