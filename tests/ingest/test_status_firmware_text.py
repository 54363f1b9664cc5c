"""The ``firmware`` of a ``status`` message is text the registry can hold, or the message is dead-lettered.

Two firmware strings passed the parser and then went wrong on the platform:

- a JSON escape of half a UTF-16 pair (``"2.0\\ud800"``: valid UTF-8 JSON, as a C firmware escaping
  bytes it does not know writes it) gave a Python string with a lone surrogate. Recording it on the unit
  failed with ``UnicodeEncodeError`` in the detection stage (a traceback in the log of ``foreshock run``),
  and the whole status was lost: neither its presence nor its firmware was recorded, and no dead letter
  told the firmware team why;
- a blank firmware (``"   "``) was recorded on the unit, a fleet-report group of its own, although the
  registry refuses a blank firmware (docs/devices.md) and the protocol an empty one.
"""

from __future__ import annotations

import json

import pytest

from devices.protocol import ProtocolError, Reason, parse_message
from devices.registry import Registry
from foreshock.db import make_engine, migrate, session_factory
from ingest.pipeline import Converter
from ingest.types import RawMessage

NOW_S = 1_795_256_130.0
STA = "foreshock/v1/P-0001/status"


@pytest.fixture
def registry(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'reg.db'}")
    migrate(engine)
    reg = Registry(session_factory(engine))
    reg.create_unit("P-0001", firmware="1.0.0")
    yield reg
    engine.dispose()


def _through_ingest(registry: Registry, payload: bytes):
    """What ``foreshock run`` does with one status message: convert it, then record what was accepted."""
    conv = Converter(device_check=registry.is_known)
    ok, bad = conv.convert([RawMessage(STA, payload, NOW_S)])
    for a in ok:
        st = a.message.parsed.status
        registry.record_status(a.message.device_id, st.state, st.ts_ms, st.firmware)
    return ok, bad


@pytest.mark.parametrize("escaped, code, pos", [("2.0\\ud800", "U+D800", 3), ("\\udfff1.0", "U+DFFF", 0)])
def test_a_lone_surrogate_in_firmware_is_dead_lettered_naming_it_and_the_unit_is_unchanged(
        registry, escaped, code, pos):
    payload = ('{"state": "online", "firmware": "%s"}' % escaped).encode()
    payload.decode("utf-8")  # valid UTF-8 JSON: only the escape makes half a character
    ok, bad = _through_ingest(registry, payload)
    assert ok == []
    assert [d.reason for d in bad] == ["schema"]
    assert bad[0].detail.startswith(f"firmware: lone surrogate {code} at position {pos}")
    assert registry.get_unit("P-0001").firmware == "1.0.0"


def test_a_whole_surrogate_pair_is_one_character_and_accepted(registry):
    ok, bad = _through_ingest(registry, b'{"state": "online", "firmware": "2.0-\\ud83d\\ude80"}')
    assert bad == [] and len(ok) == 1
    assert registry.get_unit("P-0001").firmware == "2.0-\U0001F680"


@pytest.mark.parametrize("blank", [" ", "   ", "\u00a0", "\u3000 "])
def test_a_blank_firmware_is_refused_not_recorded_as_a_version(registry, blank):
    with pytest.raises(ProtocolError) as info:
        parse_message(STA, json.dumps({"state": "online", "firmware": blank}).encode(), received_at=NOW_S)
    assert info.value.reason is Reason.SCHEMA
    assert info.value.detail == "firmware: blank: leave it out when unknown"
    ok, bad = _through_ingest(registry, json.dumps({"state": "online", "firmware": blank}).encode())
    assert ok == [] and [d.reason for d in bad] == ["schema"]
    assert registry.get_unit("P-0001").firmware == "1.0.0"


def test_firmware_with_inner_spaces_is_still_recorded(registry):
    ok, bad = _through_ingest(registry, b'{"state": "online", "firmware": "v2.4.1 (build 77)"}')
    assert bad == [] and len(ok) == 1
    assert registry.get_unit("P-0001").firmware == "v2.4.1 (build 77)"
