"""What ``foreshock evaluate`` measures other than the built-in defaults: your own scalar detector, or
other settings of the vibration engine.

- ``scalar_detector``: ``MODULE:NAME`` or ``path/to/file.py:NAME``, a class or a function that takes
  no argument and returns a detector following river's anomaly protocol (``score_one(x) -> float``
  then ``learn_one(x)``, ``x = {"value": v}``), e.g. ``river.anomaly:HalfSpaceTrees``. It scores the
  NAB series in place of :class:`detectors.scalar.ScalarAnomaly`; a fresh one per series.
- ``monitor_config``: settings of :class:`detectors.MonitorConfig` (what a machine model's
  ``detector_config`` holds) for every run and failure series, so that a change can be measured
  before it is given to a model; ``model_config``: settings for the runs of one machine model (the
  ``model`` of their sidecars, as the simulator writes it) over those, as a model's own would act.

Both travel to the worker processes as plain data (the spec string, the settings' pairs).

>>> o = Options.parse(monitor_config=["warmup=40", "alarm_ratio=8"])
>>> o.config()
{'warmup': 40, 'alarm_ratio': 8}
>>> Options.parse(monitor_config=["warmup"])
Traceback (most recent call last):
...
evaluation.options.OptionError: --monitor-config: 'warmup' is neither KEY=VALUE nor a JSON file
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from detectors.config import MonitorConfig

__all__ = ["DetectorFailed", "OptionError", "Options", "checked_score", "load_scalar_detector"]

BUILTIN_SCALAR = "detectors.scalar:ScalarAnomaly"


class OptionError(ValueError):
    """An option of ``foreshock evaluate`` that cannot be used, with the reason."""


class DetectorFailed(RuntimeError):
    """A user's detector raised or returned something that is not a score, while streaming a file."""


@dataclass(frozen=True)
class Options:
    scalar_detector: str = BUILTIN_SCALAR
    monitor_config: tuple[tuple[str, Any], ...] = ()
    # per machine model (a run's sidecar ``model``): settings over ``monitor_config`` for its runs only
    model_config: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()

    @classmethod
    def parse(cls, scalar_detector: str | None = None, monitor_config: list[str] | None = None,
              model_config: list[str] | None = None) -> Options:
        """Check the options now (before any file is read); raises :class:`OptionError`."""
        spec = scalar_detector or BUILTIN_SCALAR
        if scalar_detector:
            load_scalar_detector(spec)  # refuses a bad spec here, in the parent, with the reason
        cfg: dict[str, Any] = {}
        for item in monitor_config or []:
            cfg.update(_config_item(item))
        try:
            checked = MonitorConfig.from_overrides(cfg)
        except ValueError as exc:
            raise OptionError(f"--monitor-config: {exc}") from None
        per_model: dict[str, dict[str, Any]] = {}
        for item in model_config or []:
            model, rest = _model_item(item)
            per_model.setdefault(model, {}).update(_config_item(rest, option=f"--model-config {model}"))
        models = []
        for model, own in per_model.items():
            try:
                both = MonitorConfig.from_overrides({**cfg, **own})
            except ValueError as exc:
                raise OptionError(f"--model-config {model}: {exc}") from None
            models.append((model, tuple((k, getattr(both, k)) for k in own)))
        return cls(spec, tuple((k, getattr(checked, k)) for k in cfg), tuple(models))

    def config(self) -> dict[str, Any]:
        return dict(self.monitor_config)

    def config_for(self, model: Any) -> dict[str, Any]:
        """The settings a run of machine ``model`` is judged with: ``monitor_config``, then its model's."""
        return {**self.config(), **dict(dict(self.model_config).get(model, ()))}

    def models(self) -> dict[str, dict[str, Any]]:
        return {model: dict(own) for model, own in self.model_config}

    def make_scalar(self) -> Callable[[], Any]:
        return load_scalar_detector(self.scalar_detector)


def _model_item(item: str) -> tuple[str, str]:
    """``MODEL:KEY=VALUE`` or ``MODEL:FILE.json`` as (MODEL, the rest); a value may hold a colon."""
    head = item.partition("=")[0]
    model, sep, _ = head.partition(":")
    if not sep or not model.strip() or not item[len(model) + 1:].strip():
        raise OptionError(f"--model-config: expected MODEL:KEY=VALUE or MODEL:FILE.json, got {item!r}")
    return model.strip(), item[len(model) + 1:]


def _config_item(item: str, option: str = "--monitor-config") -> dict[str, Any]:
    """``KEY=VALUE`` (VALUE read as JSON when it parses: numbers, lists) or a JSON file of settings."""
    if "=" in item:
        key, _, raw = item.partition("=")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        return {key.strip(): value}
    path = Path(item)
    if path.is_dir():
        raise OptionError(f"{option}: {item} is a folder, not a JSON file of settings")
    if not path.is_file():
        if path.suffix.lower() == ".json" or len(path.parts) > 1:  # meant as a file
            raise OptionError(f"{option}: no such file: {item}")
        raise OptionError(f"{option}: {item!r} is neither KEY=VALUE nor a JSON file")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OptionError(f"{option}: {item}: not a JSON file of settings ({exc})") from None
    if not isinstance(doc, dict):
        raise OptionError(f"{option}: {item}: expected a JSON object of settings, got {type(doc).__name__}")
    return doc


@lru_cache(maxsize=8)
def load_scalar_detector(spec: str) -> Callable[[], Any]:
    """The factory named by ``MODULE:NAME`` or ``FILE.py:NAME``, checked to build a detector with
    ``score_one`` and ``learn_one``; raises :class:`OptionError` naming what is wrong."""
    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name:
        raise OptionError(f"--scalar-detector: expected MODULE:NAME or FILE.py:NAME, got {spec!r}")
    module = _import(where)
    factory = module
    for part in name.split("."):
        if not hasattr(factory, part):
            raise OptionError(f"--scalar-detector: {where} has no {name!r}")
        factory = getattr(factory, part)
    if not callable(factory):
        raise OptionError(f"--scalar-detector: {spec} is a {type(factory).__name__}, not a class or function")
    try:
        probe = factory()
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - whatever the user's constructor raises, said as such
        raise OptionError(f"--scalar-detector: {spec}() failed: {type(exc).__name__}: {exc}") from None
    missing = [m for m in ("score_one", "learn_one") if not callable(getattr(probe, m, None))]
    if missing:
        raise OptionError(f"--scalar-detector: {spec}() gives a {type(probe).__name__} without "
                          f"{' and '.join(missing)} (river's anomaly protocol)")
    return factory


def _import(where: str) -> Any:
    if where.endswith(".py"):
        path = Path(where).resolve()
        if not path.is_file():
            raise OptionError(f"--scalar-detector: no such file {where}")
        # named by the whole path: another folder's file of the same name is another module
        mod_name = f"_foreshock_user_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:12]}"
        if mod_name in sys.modules:
            return sys.modules[mod_name]
        loader = importlib.util.spec_from_file_location(mod_name, path)
        if loader is None or loader.loader is None:
            raise OptionError(f"--scalar-detector: cannot load {where} as Python")
        module = importlib.util.module_from_spec(loader)
        sys.modules[mod_name] = module
        if str(path.parent) not in sys.path:  # as when the file is run, its neighbours import (from helpers import
            sys.path.append(str(path.parent))  # ...); last, so that no file there stands in for a module of ours
        try:
            loader.loader.exec_module(module)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - the user's file (even a sys.exit in it): report
            del sys.modules[mod_name]
            raise OptionError(f"--scalar-detector: {where} failed to load: {type(exc).__name__}: {exc}") from None
        return module
    try:
        return importlib.import_module(where)
    except ImportError as exc:
        raise OptionError(f"--scalar-detector: cannot import {where}: {exc}") from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001
        raise OptionError(f"--scalar-detector: importing {where} failed: {type(exc).__name__}: {exc}") from None


def checked_score(value: Any, spec: str, where: str, row: int) -> float:
    """``value`` as a finite float, or :class:`DetectorFailed` naming the detector, file and row.

    A bool is refused: NAB thresholds the scores itself, a yes/no cannot be ranked."""
    if isinstance(value, (bool, np.bool_)):
        raise DetectorFailed(f"{spec} returned {value!r} for row {row} of {where}: a score must be a number "
                             "(higher = more anomalous), not a yes/no")
    try:
        score = float(value)
    except OverflowError:
        raise DetectorFailed(f"{spec} returned a number too large for a float for row {row} of {where}: "
                             "a score must be finite") from None
    except (TypeError, ValueError):
        raise DetectorFailed(f"{spec} returned {value!r} for row {row} of {where}: a score must be a number") from None
    if not math.isfinite(score):
        raise DetectorFailed(f"{spec} returned {score} for row {row} of {where}: a score must be finite")
    return score
