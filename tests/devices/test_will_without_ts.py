"""A last will stamped when the unit connects is ignored: the document says to give it no ``ts``.

A firmware building every status with one function stamps its will too, at connect time. The ``online`` it
publishes right after is newer, so when the connection drops and the broker publishes the will, the platform
ignores it as a stale status (docs/device-protocol.md: "A status older than the one recorded is ignored"):
the unit stayed ``online`` (seen with Mosquitto 2.0.11 and ``foreshock run``). The document only said that
the will "has none"; it now says not to stamp it, and why.
"""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "device-protocol.md"
FLAT = " ".join(DOC.read_text(encoding="utf-8").split())
CONNECTED_MS = 1_795_256_130_000


def test_a_will_stamped_at_connect_is_ignored_and_an_undated_one_is_not(registry):
    registry.create_unit("P-0001")
    assert "So put **no `ts` in the last will**" in FLAT
    assert "the unit stays `online` after its connection dropped" in FLAT
    assert "payload `{\"state\":\"offline\"}` (without `ts`, see *`status`*)" in FLAT

    registry.record_status("P-0001", "online", CONNECTED_MS + 200)  # published right after connecting
    assert registry.record_status("P-0001", "offline", CONNECTED_MS) is False  # the will, stamped at connect
    assert registry.presence("P-0001").state == "online"  # as the document warns
    assert registry.record_status("P-0001", "offline", None) is True  # the will as the document shows it
    assert registry.presence("P-0001").state == "offline"
