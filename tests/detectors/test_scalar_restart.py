"""A scalar series' spike rule and a machine that stops and starts again.

An isolated value far above the recent ones is a sensor spike, left out; a second high value in a row is
kept. After a stop the recent values are the stopped machine's, so a unit that runs high (a developing
fault) came back with its running values flagged as spikes on every other record until three of them had
filled the running median: the series' sensor was blamed for the machine's own restart, and half its
values were left out (seen on simulated units with real faults: up to 12 records per unit). Now a value
is a spike only if the one before it was not high as well.
"""

from __future__ import annotations

import numpy as np

from detectors.scalars import ScalarTrack

STEP = 60.0


def _learnt(rng: np.random.Generator) -> tuple[ScalarTrack, float]:
    tr = ScalarTrack(warmup_s=3600.0, points=32)
    t = 0.0
    while not tr.baseline.ready:
        tr.update(t, 2.0 * float(np.exp(0.05 * rng.standard_normal())))
        t += STEP
    return tr, t


def test_a_restart_of_a_unit_running_high_flags_at_most_its_first_value() -> None:
    rng = np.random.default_rng(0)
    tr, t = _learnt(rng)
    flagged = []
    for phase, level, n in (("running high", 12.0, 20), ("stopped", 0.02, 8), ("running high again", 12.0, 12)):
        for _ in range(n):
            tr.update(t, level * float(np.exp(0.02 * rng.standard_normal())))
            flagged.append((phase, tr.spike))
            t += STEP
    again = [s for p, s in flagged if p == "running high again"]
    assert sum(again) <= 1 and not any(again[1:])


def test_an_isolated_spike_is_still_flagged_and_left_out() -> None:
    rng = np.random.default_rng(1)
    tr, t = _learnt(rng)
    seen = []
    for i in range(30):
        v = 40.0 if i in (10, 20) else 2.0 * float(np.exp(0.05 * rng.standard_normal()))
        tr.update(t, v)
        seen.append(tr.spike)
        t += STEP
    assert [i for i, s in enumerate(seen) if s] == [10, 20]
    assert tr.level == 0
