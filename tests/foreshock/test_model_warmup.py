"""A new unit commissions over its model's ``warmup``, not the default one.

The detection stage made a new unit's monitor with the default configuration (``warmup`` 30) and gave it
the model's configuration afterwards: the baselines, made with the monitor, kept the default, so a unit of
a model with ``warmup`` 12 said ``learning baseline (13/12)`` ... ``(30/12)`` and commissioned after 30
snapshots (found while building the relearn request: after a relearn the model's warmup applied).
"""

from __future__ import annotations

from tests.foreshock.test_relearn import fleet  # noqa: F401 - the fixture

WARMUP = 12


def test_a_new_unit_commissions_over_its_models_warmup(fleet):  # noqa: F811
    f = fleet(WARMUP)
    reasons = []
    for _ in range(WARMUP + 1):
        u = f.one(defect=0.0)  # a healthy machine
        reasons.append(u.latest["reasons"])
    assert u.monitor.baseline.warmup == WARMUP
    assert [r[-1] for r in reasons[:WARMUP]] == [f"learning baseline ({i}/{WARMUP})" for i in range(1, WARMUP + 1)]
    assert u.monitor.baseline.ready and not any("learning baseline" in r for r in reasons[WARMUP])
