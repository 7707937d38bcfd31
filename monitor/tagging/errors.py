"""Errors raised by the tagging engine."""

from monitor.core.errors import ConfigError


class TaggingConfigError(ConfigError, ValueError):
    """A tagging config file is missing, malformed or inconsistent; the message names the file and key."""
