"""Errors raised by the tagging engine."""


class TaggingConfigError(ValueError):
    """A tagging config file is missing, malformed or inconsistent; the message names the file and key."""
