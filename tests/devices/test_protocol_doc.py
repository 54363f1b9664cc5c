"""The examples in docs/device-protocol.md are valid messages (the document and the module agree)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from devices import protocol as p

DOC = Path(__file__).resolve().parents[2] / "docs" / "device-protocol.md"
NOW_S = 1795256130.250 + 60


def _examples() -> list[str]:
    return re.findall(r"```json\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.mark.parametrize("block", _examples())
def test_document_examples_parse(block):
    doc = json.loads(block)
    if isinstance(doc, dict) and "samples_b64" in doc:
        doc["samples_b64"] = "AAAAAM3MzD3NzEw+AACAPw=="  # the document abbreviates the samples
    payload = json.dumps(doc).encode()
    if isinstance(doc, dict) and "state" in doc and "reasons" in doc:
        assert doc["state"] in p.HEALTH_STATES  # platform -> device
        return
    kind = "status" if isinstance(doc, dict) and "state" in doc else (
        "vibration" if isinstance(doc, dict) and "axis" in doc else "telemetry")
    msg = p.parse_message(p.topic("P-0001", kind), payload, received_at=NOW_S)
    assert msg.kind == kind


def test_every_rejection_reason_is_documented():
    text = DOC.read_text()
    for reason in p.Reason:
        if reason in (p.Reason.STORE_REJECTED,):
            continue
        assert f"`{reason.value}`" in text, reason
