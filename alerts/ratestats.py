"""Did a corrective action lower a failure rate? A ratio of Poisson rate ratios with its interval.

Four counts of failures and their exposures (unit-days): the units in the action's scope before and
after the action date, and the units outside the scope over the same two periods (the control,
which absorbs seasonality, load changes or a detector update that touched everyone). The effect is

    RRR = (after_in / before_in) / (after_out / before_out)     (each a rate: failures per unit-day)

with a 95 % interval from the log-normal approximation, SE(log RRR) = sqrt(1/a + 1/b + 1/c + 1/d)
(0.5 added to every count when one is zero). The in-scope change alone is also tested exactly:
conditional on the in-scope total, the after-count is binomial with p = exposure share of after
(the conditional binomial test of two Poisson rates).

Verdicts: ``effective`` when the whole interval lies below 1; ``not_effective`` when the whole
interval lies above ``target_ratio`` (the smallest reduction worth having is ruled out);
otherwise ``insufficient_data``, with how many more unit-days after the action (at the current
rates) would let the interval decide.

>>> r = compare_rates(before_in=(30, 1000), after_in=(3, 1000), before_out=(20, 4000), after_out=(21, 4000))
>>> r.verdict, round(r.ratio, 3), r.ci_high < 1
('effective', 0.095, True)
>>> compare_rates(before_in=(3, 100), after_in=(2, 50), before_out=(5, 400), after_out=(3, 200)).verdict
'insufficient_data'
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from scipy import stats

__all__ = ["RateComparison", "compare_rates"]

VERDICTS = ("effective", "not_effective", "insufficient_data")


@dataclass(frozen=True)
class RateComparison:
    verdict: str
    ratio: float | None  # ratio of rate ratios (in-scope after/before over out-of-scope after/before)
    ci_low: float | None
    ci_high: float | None
    confidence: float
    p_value: float | None  # exact conditional binomial test: in-scope rate after < before (one-sided)
    in_scope_rate_ratio: float | None
    out_of_scope_rate_ratio: float | None
    counts: dict[str, list[float]]  # period -> [failures, unit-days]
    more_unit_days: float | None  # insufficient_data: unit-days after the action still needed (None: cannot tell)
    target_ratio: float
    statement: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check(name: str, pair: tuple[float, float]) -> tuple[float, float]:
    try:
        n, e = float(pair[0]), float(pair[1])
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"{name} must be (failures, unit_days), got {pair!r}") from None
    if n < 0 or not math.isfinite(n):
        raise ValueError(f"{name}: failures must be a non-negative number, got {pair[0]!r}")
    if e < 0 or not math.isfinite(e):
        raise ValueError(f"{name}: unit-days must be a non-negative number, got {pair[1]!r}")
    return n, e


def _interval(counts: list[float], exposures: list[float], z: float) -> tuple[float, float, float]:
    a, b, c, d = counts
    if min(counts) == 0:
        a, b, c, d = a + 0.5, b + 0.5, c + 0.5, d + 0.5
    ea, eb, ec, ed = exposures
    log_rrr = math.log((b / eb) / (a / ea)) - math.log((d / ed) / (c / ec))
    se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    return log_rrr, log_rrr - z * se, log_rrr + z * se


def _more_unit_days(counts: list[float], exposures: list[float], z: float, target: float) -> float | None:
    """Grow the after-period (counts and exposure alike, rates unchanged) until the interval decides."""
    after = exposures[1] + exposures[3]
    b, d = max(counts[1], 0.5), max(counts[3], 0.5)  # a zero so far projects as half a failure
    for k in (1.25, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256):
        grown = [counts[0], b * k, counts[2], d * k]
        _, lo, hi = _interval(grown, [exposures[0], exposures[1] * k, exposures[2], exposures[3] * k], z)
        if hi < 0 or lo > math.log(target):
            return round(after * (k - 1), 1)
    return None


def _per_1000(n: float, e: float) -> str:
    """
    >>> _per_1000(2, 2.17), _per_1000(1, 240), _per_1000(1, 40000)
    ('2 failures in 2 unit-days (922 per 1,000)', '1 failure in 240 unit-days (4.2 per 1,000)', '1 failure in 40,000 unit-days (0.025 per 1,000)')
    """
    rate = 1000 * n / e
    return (f"{n:g} failure{'s' if n != 1 else ''} in {e:,.0f} unit-days "
            f"({f'{rate:,.0f}' if rate >= 10 else f'{rate:.2g}'} per 1,000)")


def _rates_in_words(counts: list[float], exposures: list[float]) -> str:
    """The four cells as a quality manager reads them.

    >>> _rates_in_words([30, 3, 20, 21], [1000, 1000, 4000, 4000])
    'in scope 30 failures in 1,000 unit-days (30 per 1,000) before, 3 failures in 1,000 unit-days (3 per 1,000) after; outside it 20 failures in 4,000 unit-days (5 per 1,000) before, 21 failures in 4,000 unit-days (5.2 per 1,000) after'
    """
    a, b, c, d = counts
    ea, eb, ec, ed = exposures
    return (f"in scope {_per_1000(a, ea)} before, {_per_1000(b, eb)} after; "
            f"outside it {_per_1000(c, ec)} before, {_per_1000(d, ed)} after")


def _missing_in_words(missing: list[str]) -> str:
    """Why there is nothing to compare yet, as a quality manager reads it (it is written into the ticket's
    D6/D7): the periods in which the units in or outside the scope have not run a single day.

    >>> _missing_in_words(["after_in", "after_out"])
    "not yet decided, asked too early: neither the units in the action's scope nor those outside it have run a day since the action; verify again once they have run for a while"
    >>> _missing_in_words(["before_in"])
    "not yet decided: the units in the action's scope have not run a day before the action, so there is nothing to compare the time since with"
    """
    clauses, early = [], False
    for period, when in (("after", "since the action"), ("before", "before the action")):
        sides = [side for side in ("in", "out") if f"{period}_{side}" in missing]
        if not sides:
            continue
        early = early or period == "after"
        who = ("neither the units in the action's scope nor those outside it have" if len(sides) == 2
               else "the units in the action's scope have not" if sides == ["in"]
               else "the units outside the action's scope have not")
        clauses.append(f"{who} run a day {when}")
    text = ("not yet decided, asked too early: " if early else "not yet decided: ") + "; and ".join(clauses)
    if early:
        return text + "; verify again once they have run for a while"
    return text + ", so there is nothing to compare the time since with"


def compare_rates(
    *, before_in: tuple[float, float], after_in: tuple[float, float], before_out: tuple[float, float],
    after_out: tuple[float, float], target_ratio: float = 0.7, confidence: float = 0.95,
) -> RateComparison:
    """Compare failure rates; each argument is ``(failures, unit_days)``. See the module docstring."""
    if not 0 < target_ratio < 1:
        raise ValueError(f"target_ratio must be in (0, 1) (0.7 = at least a 30 % reduction), got {target_ratio!r}")
    if not 0.5 < confidence < 1:
        raise ValueError(f"confidence must be in (0.5, 1), got {confidence!r}")
    pairs = {"before_in": _check("before_in", before_in), "after_in": _check("after_in", after_in),
             "before_out": _check("before_out", before_out), "after_out": _check("after_out", after_out)}
    counts = [p[0] for p in pairs.values()]
    exposures = [p[1] for p in pairs.values()]
    base: dict[str, Any] = {"confidence": confidence, "target_ratio": target_ratio,
            "counts": {k: [v[0], round(v[1], 2)] for k, v in pairs.items()}}
    missing = [k for k, (_, e) in pairs.items() if e <= 0]
    if missing:
        return RateComparison(
            verdict="insufficient_data", ratio=None, ci_low=None, ci_high=None, p_value=None,
            in_scope_rate_ratio=None, out_of_scope_rate_ratio=None, more_unit_days=None,
            statement=_missing_in_words(missing), **base)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    est, lo, hi = _interval(counts, exposures, z)
    a, b, c, d = counts
    ea, eb, ec, ed = exposures
    rr_in = (b / eb) / (a / ea) if a > 0 else None
    rr_out = (d / ed) / (c / ec) if c > 0 else None
    p_value = None
    if a + b > 0:
        p_value = float(stats.binomtest(int(b), int(a + b), eb / (ea + eb), alternative="less").pvalue)
    ratio, ci_low, ci_high = math.exp(est), math.exp(lo), math.exp(hi)
    pct = f"{confidence:.0%}"
    more = None
    if ci_high < 1:
        verdict = "effective"
        statement = (f"effective: the failure rate in scope fell to {ratio:.2f}× its relative level before "
                     f"({pct} interval {ci_low:.2f}–{ci_high:.2f}, below 1)")
        if b / eb >= a / ea:  # the ratio fell only because the units outside the scope failed more often
            statement += ("; note: the rate in scope itself did not fall, the verdict rests on the rate outside "
                          "the scope rising")
    elif ci_low > target_ratio:
        verdict = "not_effective"
        statement = (f"not effective: relative rate {ratio:.2f}× ({pct} interval {ci_low:.2f}–{ci_high:.2f}) "
                     f"rules out the targeted reduction to {target_ratio:.2f}×")
    else:
        verdict = "insufficient_data"
        more = _more_unit_days(counts, exposures, z, target_ratio)
        need = (f"needs about {more:.0f} more unit-days after the action" if more is not None
                else "the before period has too few failures to decide; widen the baseline")
        statement = (f"not yet decided: relative rate {ratio:.2f}× ({pct} interval {ci_low:.2f}–{ci_high:.2f}); "
                     f"{need}")
    statement += f" ({_rates_in_words(counts, exposures)})"
    return RateComparison(
        verdict=verdict, ratio=round(ratio, 4), ci_low=round(ci_low, 4), ci_high=round(ci_high, 4),
        p_value=None if p_value is None else round(p_value, 6),
        in_scope_rate_ratio=None if rr_in is None else round(rr_in, 4),
        out_of_scope_rate_ratio=None if rr_out is None else round(rr_out, 4),
        more_unit_days=more, statement=statement, **base)
