"""Foreshock: IoT predictive-quality monitoring.

This package holds what every part of the product shares: the settings object
(:mod:`foreshock.settings`), the relational database setup and migrations
(:mod:`foreshock.db`), the telemetry store interface and its backends
(:mod:`foreshock.tsdb`), the dataset file formats (:mod:`foreshock.datasets`) and the
``foreshock`` command line (:mod:`foreshock.cli`).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("foreshock")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
