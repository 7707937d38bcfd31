"""What every command shares: the lazily opened settings and database, and the conventions of the output —
one timestamp format, JSON Lines, ``--since`` and ``--limit``, plurals."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from monitor.core.config import Settings, load_settings
from monitor.core.errors import MonitorError
from monitor.core.logs import setup_logging
from monitor.core.when import parse_when

if TYPE_CHECKING:
    from monitor.ingest.processor import Options
    from monitor.service.app import App
    from monitor.store import Store
    from monitor.store.models import Feed

DEFAULT_LIMIT = 50
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """Loads settings, opens the database and loads the tagger only when a command needs them. ``config`` may be
    set until then (``--config`` before or after the subcommand)."""

    def __init__(self, config: Path | None):
        self.config = config
        self._settings: Settings | None = None
        self._app: App | None = None
        self._tagging: Options | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
            setup_logging(self._settings.log_format, self._settings.log_level)
        return self._settings

    @property
    def app(self) -> App:
        if self._app is None:
            from monitor.service.app import open_app

            self._app = open_app(self.settings)
        return self._app

    def tagging(self) -> Options:
        """The tagging options, once the tag rules, officials and model have loaded and passed ``check_tagging``:
        the commands that tag ask first, so that a broken tagging config stops them before they do anything."""
        if self._tagging is None:
            from monitor.service.app import check_tagging

            self._tagging = check_tagging(self.settings)
        return self._tagging


pass_ctx = click.make_pass_decorator(Context)


def find_feed(store: Store, url: str) -> Feed:
    """The stored feed with this URL, or an error naming it."""
    feed = store.feed(url)
    if feed is None or feed.id is None:
        raise MonitorError(f"no such feed: {url} (`monitor feeds list` shows the feeds)")
    return feed


def parse_since(value: str | None) -> datetime | None:
    """``--since``: the dates the API reads too (``monitor.core.when``)."""
    return parse_when(value, "--since")


def shown(when: datetime | None, empty: str = "never") -> str:
    """The one timestamp format of text output: "2026-05-01 14:03 UTC"."""
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if when else empty


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


def echo_json(item: dict[str, Any]) -> None:
    click.echo(json.dumps(item, ensure_ascii=False))


def json_option(what: str = "JSON") -> Callable[[F], F]:
    return click.option("--json", "as_json", is_flag=True, help=f"Print {what}.")


def limit_option(default: int = DEFAULT_LIMIT) -> Callable[[F], F]:
    return click.option("--limit", type=click.IntRange(min=0), default=default, show_default=True,
                        help="At most this many, newest first (0: all).")


def limited(rows: Sequence[T], limit: int) -> Sequence[T]:
    """The first ``limit`` rows of a query asked for ``limit + 1``; says on stderr when more were left out."""
    if limit and len(rows) > limit:
        click.echo(f"(first {limit} shown; --limit N for more, --limit 0 for all)", err=True)
        return rows[:limit]
    return rows


def query_limit(limit: int) -> int | None:
    """What to ask the store for: one more than shown, to know whether some were left out."""
    return limit + 1 if limit else None


def nothing(message: str) -> None:
    """Say that a listing is empty (on stderr: JSON output stays empty)."""
    click.echo(message, err=True)
