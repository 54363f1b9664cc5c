"""What the detectors do with a unit's telemetry values, as docs/device-protocol.md now tells firmware teams.

The document said only that ``values`` holds 1 to 256 names. A unit that sent 20 values learnt nothing of
its bearing temperature: the detectors follow the first ``max_scalar_keys`` (16) names a unit sends and
store the others only, without a word; ``speed_rpm``, ``current_a`` ... are operating context, never
alarmed on; a ``..._temperature_c`` is judged as its rise over ``ambient_c``. The text is checked
against the engine's defaults here, so it cannot drift from them.
"""

from __future__ import annotations

from pathlib import Path

from detectors import UnitMonitor
from detectors.config import MonitorConfig

DOC = Path(__file__).resolve().parents[2] / "docs" / "device-protocol.md"
FLAT = " ".join(DOC.read_text(encoding="utf-8").split())
TS = 1_795_256_130.0


def test_the_document_states_the_engines_defaults():
    c = MonitorConfig()
    context = ", ".join(f"`{k}`" for k in c.context_keys)
    assert (f"the first {c.max_scalar_keys} names a unit sends (its model's `max_scalar_keys`) are assessed; "
            "the others are stored only") in FLAT
    assert f"{context} are operating context" in FLAT
    assert "a name ending in `temperature_c` is judged as its rise over `ambient_c`" in FLAT


def test_what_the_document_says_is_what_the_detectors_do():
    c = MonitorConfig()
    values = {f"winding{i:02d}_temperature_c": 60.0 + i for i in range(c.max_scalar_keys)}
    values.update({k: 1.0 for k in c.context_keys})
    values["bearing_temperature_c"] = 55.0  # one name too many: stored, not assessed
    scored = {k[2:] for k in UnitMonitor().update_scalars(TS, values).scores if k.startswith("z_")}
    assert len(scored) == c.max_scalar_keys
    assert "bearing_temperature_rise_k" not in scored and "bearing_temperature_c" not in scored
    assert not scored & set(c.context_keys)
    assert "winding00_temperature_rise_k" in scored  # its rise over ambient_c, sent in the same record
