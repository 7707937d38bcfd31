"""Errors a user can act on; the CLI prints them as one line, without a traceback."""


class MonitorError(Exception):
    """Base class for errors with a message meant for the user."""


class ConfigError(MonitorError):
    """The configuration file or environment is invalid."""


class DatabaseError(MonitorError):
    """The database cannot be opened, migrated or reached."""


class InvalidParameter(MonitorError):
    """A request's parameter (a search query, a date, a cursor) is malformed; the message says why."""
