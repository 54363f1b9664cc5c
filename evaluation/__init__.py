"""Measure the detectors on recorded data: ``foreshock evaluate PATH... [--json FILE]``.

- :mod:`evaluation.nab`: the Numenta Anomaly Benchmark scorer (NAB v1.1 sweeper semantics);
  :mod:`evaluation.nab_corpus` runs a river-protocol scalar detector over labelled series.
- :mod:`evaluation.records`: CWRU-style records through :func:`detectors.diagnose`.
- :mod:`evaluation.runs`: runs to failure and failure series through :class:`detectors.UnitMonitor`
  (lead time, false warnings, time to failure, PHM 2012 score); :mod:`evaluation.fleet` sums up a
  simulated fleet against its ground truth.
- :mod:`evaluation.harness` drives all of them over discovered datasets (:mod:`evaluation.discover`),
  :mod:`evaluation.report` prints the result, :mod:`evaluation.cli` is the subcommand.

Results on the shared datasets are in ``docs/detector-performance.md``.
"""

from __future__ import annotations

__all__ = ["cli", "discover", "fleet", "harness", "nab", "nab_corpus", "records", "report", "runs"]
