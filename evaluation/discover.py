"""Turn the paths given to ``foreshock evaluate`` into the datasets to evaluate.

A file is taken as given (data file, sidecar or stem); a folder is walked recursively for data
files (``.csv``, ``.npz``), skipping sidecars and other files (licences, READMEs, NAB's label
files). A folder holding a simulator ``truth.json`` is a simulated fleet. A path in no known
format is refused with a :class:`foreshock.datasets.DatasetError` that names it.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from evaluation.nab_corpus import label_windows
from foreshock.datasets import DatasetError, detect_kind

__all__ = ["Item", "damaged_npz_refused", "discover", "model_of"]

ItemKind = Literal["nab", "series", "record", "run"]


@dataclass(frozen=True)
class Item:
    """One dataset to evaluate. ``fleet`` is the fleet folder of a simulated unit's run."""

    kind: ItemKind
    path: Path
    fleet: Path | None = None

    @property
    def name(self) -> str:
        return self.path.stem


def _truth_dir(path: Path) -> Path | None:
    truth = path.parent / "truth.json"
    return path.parent if truth.is_file() else None


@contextmanager
def damaged_npz_refused(path: Path) -> Iterator[None]:
    """Damaged compressed data in an npz (a copy cut short, a write interrupted) as the
    :class:`DatasetError` naming the file that :mod:`foreshock.datasets` gives for a damaged zip:
    it catches the zip module's errors, not zlib's, which escaped as a traceback."""
    try:
        yield
    except zlib.error as exc:
        raise DatasetError(path.with_suffix(".npz"), f"not a readable npz archive: {exc}") from None


def _classify(path: Path) -> Item | None:
    with damaged_npz_refused(path):
        kind = detect_kind(path)
    data = path.with_suffix(".csv" if kind == "series" else ".npz") if path.suffix in ("", ".json") else path
    if kind == "series":
        if label_windows(data) is not None:
            return Item("nab", data)
        fleet = _truth_dir(data)
        if fleet is not None:
            return None  # a fleet's telemetry series: the fleet is evaluated on its runs
        return Item("series", data)
    if kind == "run":
        return Item("run", data, _truth_dir(data))
    return Item("record", data)


# in a dataset folder and not data: documentation, licences (NAB ships them beside its series)
_DOCS = {".md", ".txt", ".rst", ".pdf", ".html", ".htm", ".py", ".ipynb"}


def discover(paths: list[str | Path], skipped: list[Path] | None = None,
             fleet_series: list[Path] | None = None) -> list[Item]:
    """The datasets under ``paths``, in a stable order, each once. ``skipped`` (if given) gets the
    files of a walked folder that look like data but are in no format read here (a ``.mat``, a
    sidecar whose data file is missing); hidden files and folders (``.git``, a simulator's unit
    still being written) are left out of the walk. ``fleet_series`` (if given) gets the files given
    by name that are a simulated fleet's telemetry series, which are not evaluated (the fleet is
    scored on its runs)."""
    items: dict[Path, Item] = {}
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            walked = sorted(f for f in p.rglob("*")
                            if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts))
            _refuse_broken_links(p)
            files = [f for f in walked if f.suffix in (".csv", ".npz")]
            if skipped is not None:
                skipped.extend(f for f in walked if _looks_like_data(f))
            for f in files:
                item = _classify(f)
                if item is not None:
                    items.setdefault(item.path.resolve(), item)
            continue
        if p.suffix not in ("", ".csv", ".npz", ".json"):
            if not p.exists():
                raise DatasetError(p, "no such file or folder")
            raise DatasetError(p, f"unknown format {p.suffix!r}: expected a .csv series, an .npz record or run, "
                                  "its .json sidecar, or a folder of them")
        if p.suffix == ".json" and p.is_file():
            _check_sidecar(p)
        elif not p.exists() and not p.with_suffix(".csv").exists() and not p.with_suffix(".npz").exists():
            raise DatasetError(p, "no such file or folder")
        item = _classify(p)
        if item is not None:
            items.setdefault(item.path.resolve(), item)
        elif fleet_series is not None:
            fleet_series.append(p)
    return list(items.values())


def _refuse_broken_links(folder: Path) -> None:
    """A data file in ``folder`` that is a link to nothing (a git-annex file not fetched, a moved
    target) was left out of the walk without a word: the evaluation then lacked it unseen."""
    for f in sorted(folder.rglob("*")):
        if f.suffix in (".csv", ".npz") and f.is_symlink() and not f.exists() \
                and not any(part.startswith(".") for part in f.relative_to(folder).parts):
            try:
                target = f"a link to {os.readlink(f)}, which does not exist"
            except OSError:
                target = "a link that leads nowhere"
            raise DatasetError(f, f"{target} (a git-annex file not fetched, or a moved target?)")


def model_of(item: Item) -> str | None:
    """The machine model a run's or series' sidecar names (``model``; the simulator writes it), if any."""
    try:
        doc = json.loads(item.path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    model = doc.get("model") if isinstance(doc, dict) else None
    return model if isinstance(model, str) else None


def _looks_like_data(f: Path) -> bool:
    """A walked file that is not read, not documentation and not a sidecar or label file in its place."""
    if f.suffix in (".csv", ".npz") or f.suffix.lower() in _DOCS or f.name.upper().startswith(("LICENSE", "README")):
        return False
    if f.suffix != ".json":
        return True
    if f.name == "truth.json" or f.with_suffix(".csv").exists() or f.with_suffix(".npz").exists():
        return False
    try:  # a sidecar left without its data file (label files and the like have no 'kind')
        doc = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(doc, dict) and "kind" in doc


def _check_sidecar(p: Path) -> None:
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(p, f"not valid JSON: {exc}") from None
    if isinstance(doc, dict) and "units" in doc and "start_ms" in doc:
        raise DatasetError(p, "a simulator's ground truth, not a dataset: give its folder (the runs are scored "
                              "against it) or the runs, UNIT.npz")
    if not isinstance(doc, dict) or "kind" not in doc:
        raise DatasetError(p, "not a dataset sidecar (a JSON object with a 'kind')")
