"""``foreshock run`` with ``ingest.auto_register`` on: the converter gets the registry's answer.

The service wrapped ``Registry.auto_register`` in a function that returned nothing, so the converter
took every device as accepted: a decommissioned unit's telemetry, and a serial registered in another
letter case (``p-0002`` beside ``P-0002``), were stored as if they were units in service."""

from __future__ import annotations

from devices import protocol
from ingest.types import RawMessage

NOW = 1_700_000_000.0
TS = 1_700_000_000_000


def _raw(device: str) -> RawMessage:
    return RawMessage(f"foreshock/v1/{device}/telemetry", protocol.telemetry_payload(TS, 1, {"t": 20.0}), NOW,
                      mid=1, qos=1)


def test_the_services_auto_registration_refuses_decommissioned_units_and_case_twins(tmp_path):
    from foreshock.service import Pipeline, PipelineOptions
    from foreshock.settings import load_settings

    pipe = Pipeline(load_settings(data_dir=tmp_path, ingest={"auto_register": True}), PipelineOptions(api=False))
    try:
        reg = pipe.registry
        reg.create_unit("P-0002")
        reg.create_unit("Q-0007")
        reg.decommission("Q-0007")
        ok, bad = pipe.ingest.converter.convert([_raw("P-0002"), _raw("Q-0007"), _raw("p-0002"), _raw("N-0001")])
        assert [a.message.device_id for a in ok] == ["P-0002", "N-0001"]
        assert {d.device_id: d.reason for d in bad} == {"Q-0007": "unknown_device", "p-0002": "unknown_device"}
        assert reg.get_unit("N-0001").auto_registered
        assert reg.get_unit("Q-0007").decommissioned_at is not None  # not put back in service by a message
    finally:
        pipe.stop(timeout_s=5)
