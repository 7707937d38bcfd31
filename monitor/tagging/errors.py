"""Errors raised by the tagging engine."""

from monitor.core.errors import ConfigError


class TaggingConfigError(ConfigError, ValueError):
    """A tagging config file is missing, malformed or inconsistent; the message names the file and key."""


class LabelledDataError(ValueError):
    """A labelled file (items or statements) cannot be used; the message names the file (and line)."""
