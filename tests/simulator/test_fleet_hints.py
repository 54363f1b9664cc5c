"""A misspelt or misplaced key in a fleet file is refused with the key it was probably meant to be.

Found writing a fleet for a new pump model from docs/simulator.md: ``rated_rmp = 1450`` was refused
with the 19 fields a model allows, and ``n_balls = 8`` written beside ``rated_rpm`` (not inside
``bearing = {...}``) with the same list, which does not name a bearing field at all; the service's
settings and registry already answer such a key with *did you mean ...?*.
"""

from __future__ import annotations

import pytest

from simulator.fleet import load_fleet
from simulator.models import FleetError

UNIT = [{"id": "X-1", "model": "M"}]


@pytest.mark.parametrize(
    ("doc", "says"),
    [
        ({"models": {"M": {"base": "P-1800", "rated_rmp": 1450}}, "units": UNIT},
         "models.M: unknown field(s) rated_rmp (did you mean rated_rpm?)"),
        ({"models": {"M": {"base": "P-1800", "n_balls": 8}}, "units": UNIT},
         "models.M: unknown field(s) n_balls (it belongs in the bearing table: bearing = { n_balls = ... })"),
        ({"models": {"M": {"base": "P-1800", "fs": 12800}}, "units": UNIT},
         "models.M: unknown field(s) fs (it belongs in the sensor table: sensor = { fs = ... })"),
        ({"models": {"M": {"base": "P-1800", "bearing": {"n_balls": 8, "ball_d": 7, "pitch_dia": 39}}},
          "units": UNIT}, "models.M.bearing: unknown field(s) pitch_dia (did you mean pitch_d?)"),
        ({"telemetry_intervall": "1m", "units": [{"id": "X-1", "model": "P-1800"}]},
         "fleet: unknown field(s) telemetry_intervall (did you mean telemetry_interval?)"),
        ({"units": [{"id": "X-1", "model": "P-1800", "fault": {"kind": "ball", "onest": "1h", "ttf": "2h"}}]},
         "units[0].fault: unknown field(s) onest (did you mean onset?)"),
    ],
)
def test_a_misspelt_or_misplaced_key_is_refused_with_the_likely_one(doc, says):
    with pytest.raises(FleetError) as err:
        load_fleet(doc)
    assert str(err.value).startswith(says), str(err.value)
    assert "(allowed: " in str(err.value)  # the full list is still given


def test_a_key_like_no_other_gets_the_list_alone():
    with pytest.raises(FleetError, match=r"^units\[0\]: unknown field\(s\) colour \(allowed: batch,"):
        load_fleet({"units": [{"id": "X-1", "model": "P-1800", "colour": "red"}]})
