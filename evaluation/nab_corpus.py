"""Run a scalar detector over NAB-labelled series and score them with :mod:`evaluation.nab`.

A NAB corpus is a folder holding ``data/<group>/<name>.csv`` and ``labels/combined_windows.json``;
a series path inside such a folder takes its windows from there. Every row is scored before it is
learnt (no look-ahead); the detector is a fresh one per series.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from evaluation.nab import Series as ScoredSeries
from evaluation.options import DetectorFailed, checked_score
from foreshock.datasets import DatasetError, Series, read_series

__all__ = ["ScalarScorer", "find_labels", "label_windows", "score_nab_file", "stream_scores"]

log = logging.getLogger(__name__)


class ScalarScorer(Protocol):
    def score_one(self, x: dict[str, float]) -> float: ...
    def learn_one(self, x: dict[str, float]) -> None: ...


def find_labels(path: Path) -> tuple[Path, Path] | None:
    """``(corpus root, combined_windows.json)`` of the NAB corpus holding ``path``, if any."""
    for parent in [path, *path.parents]:
        labels = parent / "labels" / "combined_windows.json"
        if labels.is_file() and (parent / "data").is_dir():
            return parent, labels
        if parent.name == "data" and (parent.parent / "labels" / "combined_windows.json").is_file():
            return parent.parent, parent.parent / "labels" / "combined_windows.json"
    return None


_labels_cache: dict[Path, dict[str, Any]] = {}


def label_windows(csv_path: Path) -> list[tuple[np.datetime64, np.datetime64]] | None:
    """The labelled windows of a series in a NAB corpus (``None`` if it is not in one)."""
    found = find_labels(csv_path.resolve())
    if found is None:
        return None
    root, labels = found
    if labels not in _labels_cache:
        try:
            doc = json.loads(labels.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DatasetError(labels, f"cannot read NAB labels: {exc}") from None
        if not isinstance(doc, dict):
            raise DatasetError(labels, f"NAB labels must be a JSON object of series -> windows "
                                       f"({{\"group/name.csv\": [[start, end], ...]}}), got {type(doc).__name__}")
        _labels_cache[labels] = doc
    key = csv_path.resolve().relative_to(root / "data").as_posix()
    windows = _labels_cache[labels].get(key)
    if windows is None:
        return None
    if not isinstance(windows, list):
        raise DatasetError(labels, f"{key}: expected a list of windows [[start, end], ...], got {windows!r}")
    out = []
    for i, w in enumerate(windows):
        if not (isinstance(w, list) and len(w) == 2 and all(isinstance(v, str) for v in w)):
            raise DatasetError(labels, f"{key}: window {i} must be [start, end], got {w!r}")
        try:  # a window that is no time was a ValueError traceback
            start, end = (np.datetime64(v.strip().replace(" ", "T"), "ms") for v in w)
        except ValueError:
            raise DatasetError(labels, f"{key}: window {i}: {w!r} are not timestamps 'YYYY-MM-DD HH:MM:SS'") from None
        if np.isnat(start) or np.isnat(end) or end < start:
            raise DatasetError(labels, f"{key}: window {i}: {w!r} must be two timestamps, the start first")
        out.append((start, end))
    return out


def stream_scores(series: Series, make: Callable[[], ScalarScorer], key: str = "value",
                  checked: str | None = None, where: str = "",
                  progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Score every value before learning it, with a fresh detector.

    ``checked``: the name of a detector that is not ours; whatever it raises or returns that is
    not a finite number stops the stream with :class:`evaluation.options.DetectorFailed` naming
    it, the file (``where``) and the row. ``progress(done, total)`` every 500 rows.
    """
    det = make()
    out = np.empty(len(series.values))
    n = len(out)
    if checked is None:
        for i, v in enumerate(series.values.tolist()):
            if progress is not None and i % 500 == 0:
                progress(i, n)
            x = {key: v}
            out[i] = det.score_one(x)
            det.learn_one(x)
        return out
    where = where or series.name
    for i, v in enumerate(series.values.tolist()):
        if progress is not None and i % 500 == 0:
            progress(i, n)
        x = {key: v}
        try:
            s = det.score_one(x)
            det.learn_one(x)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a user's detector: report it, do not exit or crash
            raise DetectorFailed(f"{checked} raised {type(exc).__name__}: {exc} at row {i + 1} of {where}") from None
        out[i] = checked_score(s, checked, where, i + 1)
    return out


def score_nab_file(csv_path: Path, make: Callable[[], ScalarScorer]) -> ScoredSeries | None:
    """Read, stream and wrap one labelled series for the scorer (``None`` if it has no labels)."""
    windows = label_windows(csv_path)
    if windows is None:
        return None
    s = read_series(csv_path)
    scores = stream_scores(s, make)
    return ScoredSeries(timestamps=s.timestamps.tolist(), scores=scores.tolist(),
                        windows=[(a.astype(object), b.astype(object)) for a, b in windows])
