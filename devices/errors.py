"""The registry's errors: every message names the unit, model or field at fault."""

from __future__ import annotations

__all__ = ["RegistryError", "InvalidInput", "NotFound", "AlreadyExists", "AmbiguousSerial"]


class RegistryError(ValueError):
    """Base class of every error the registry raises on bad input or state."""


class InvalidInput(RegistryError):
    """A field value is invalid. ``field`` names it (dotted for nested fields, e.g. ``bearing.ball_d``).

    >>> str(InvalidInput("rated_rpm", "must be > 0, got -5"))
    'rated_rpm: must be > 0, got -5'
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class NotFound(RegistryError, LookupError):
    """No unit or model of that name."""


class AlreadyExists(RegistryError):
    """A unit or model of that name is already registered."""


class AmbiguousSerial(RegistryError):
    """A serial typed in another letter case matches several units (only a database from before serial
    numbers were compared regardless of case holds such units): give it as registered."""
