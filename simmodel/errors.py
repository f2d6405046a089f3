"""User-facing errors: raised for bad input, printed as one line by the CLI (no traceback)."""

from __future__ import annotations


class SimmodelError(Exception):
    """Base class of every error caused by what a user handed in (config, scenario, data, folder)."""


class ConfigError(SimmodelError):
    """A configuration value or lever is missing, of the wrong type or out of range."""


class DataError(SimmodelError):
    """A data file is malformed: schema, units, years or values."""
