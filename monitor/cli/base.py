"""What every command shares: the lazily opened settings and database, option parsing helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from monitor.app import App, open_app
from monitor.config import Settings, load_settings
from monitor.errors import MonitorError
from monitor.logs import setup_logging


class Context:
    """Loads settings and opens the database only when a command needs them."""

    def __init__(self, config: Path | None):
        self._config = config
        self._settings: Settings | None = None
        self._app: App | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self._config)
            setup_logging(self._settings.log_format, self._settings.log_level)
        return self._settings

    @property
    def app(self) -> App:
        if self._app is None:
            self._app = open_app(self.settings)
        return self._app


pass_ctx = click.make_pass_decorator(Context)


def parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise MonitorError(f"not a date: {value!r} (use YYYY-MM-DD or an ISO 8601 time)") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


