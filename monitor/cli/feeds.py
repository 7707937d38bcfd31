"""``monitor feeds``: add, remove, list, show, OPML import and export."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import click

from monitor.cli.base import Context, pass_ctx
from monitor.errors import MonitorError
from monitor.opml import OpmlFeed, read_opml, write_opml


@click.group()
def feeds() -> None:
    """Manage the polled feeds."""


def _check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MonitorError(f"not an http(s) URL: {url!r}")
    return url.strip()


@feeds.command("add")
@click.argument("urls", nargs=-1, required=True)
@pass_ctx
def feeds_add(ctx: Context, urls: tuple[str, ...]) -> None:
    """Add feeds by URL (polled at the next tick)."""
    checked = [_check_url(url) for url in urls]
    for url in checked:
        feed, created = ctx.app.store.add_feed(url)
        click.echo(f"{'added' if created else 'already present'}: {feed.url}")


@feeds.command("remove")
@click.argument("url")
@pass_ctx
def feeds_remove(ctx: Context, url: str) -> None:
    """Remove a feed (its articles stay)."""
    if not ctx.app.store.remove_feed(url):
        raise MonitorError(f"no such feed: {url}")
    click.echo(f"removed: {url}")


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one feed a line.")
@pass_ctx
def feeds_list(ctx: Context, as_json: bool) -> None:
    """List feeds with their state."""
    for feed in ctx.app.store.feeds():
        if as_json:
            click.echo(json.dumps(feed.model_dump(mode="json")))
            continue
        state = "ok" if feed.enabled and not feed.error_count else (
            f"disabled: {feed.disabled_reason}" if not feed.enabled
            else f"{feed.error_count} errors: {feed.last_error}"
        )
        polled = feed.last_polled_at.strftime("%Y-%m-%d %H:%M") if feed.last_polled_at else "never"
        click.echo(f"{feed.url}\t{feed.title or '-'}\tpolled {polled}\t{state}")


@feeds.command("show")
@click.argument("url")
@pass_ctx
def feeds_show(ctx: Context, url: str) -> None:
    """One feed's state and recent fetch history."""
    store = ctx.app.store
    feed = store.feed(url)
    if feed is None or feed.id is None:
        raise MonitorError(f"no such feed: {url}")
    for key, value in feed.model_dump(mode="json").items():
        click.echo(f"{key}: {value}")
    click.echo("history:")
    for row in store.fetch_history(feed.id):
        click.echo(
            f"  {row.started_at:%Y-%m-%d %H:%M:%S} {row.outcome} status={row.status_code} {row.duration_ms}ms "
            f"{row.bytes}B entries={row.entries} new={row.new_articles}" + (f" error={row.error}" if row.error else "")
        )


@feeds.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@pass_ctx
def feeds_import(ctx: Context, file: Path) -> None:
    """Import feeds from an OPML file."""
    added = 0
    for feed in read_opml(file):
        added += ctx.app.store.add_feed(feed.url, feed.title)[1]
    click.echo(f"imported {added} new feeds from {file}")


@feeds.command("export")
@pass_ctx
def feeds_export(ctx: Context) -> None:
    """Print the feed list as OPML."""
    click.echo(write_opml([OpmlFeed(f.url, f.title) for f in ctx.app.store.feeds()]), nl=False)
