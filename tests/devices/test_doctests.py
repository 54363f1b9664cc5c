"""The examples in the devices modules' docstrings run (``devices/`` is not in pytest's testpaths)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "devices.broker_config", "devices.credentials", "devices.csvio", "devices.errors", "devices.query",
    "devices.registry", "devices.schemas",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
