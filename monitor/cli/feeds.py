"""``monitor feeds``: add (checked), remove, list, show, OPML import and export.

The HTTP client (``feeds add``) and the OPML reader (``import``, ``export``) load only in the commands that use
them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from monitor.cli.base import Context, echo_json, find_feed, json_option, nothing, pass_ctx, plural, shown
from monitor.core.config import PollSettings
from monitor.core.errors import MonitorError
from monitor.store.models import Feed, utcnow
from monitor.store.readmodels import iso

if TYPE_CHECKING:
    from monitor.ingest.discovery import CheckedFeed


@click.group()
def feeds() -> None:
    """Manage the polled feeds."""


def _state(feed: Feed, poll: PollSettings) -> str:
    if not feed.enabled:
        return f"disabled: {feed.disabled_reason}"
    if feed.error_count:
        return f"{plural(feed.error_count, 'error')}: {feed.last_error}"
    if feed.is_silent(poll, utcnow()):
        return f"silent: no new entry for {_span(feed.quiet_for(utcnow()))} (usually every {_span(feed.entry_gap)})"
    return "ok"


def _span(seconds: float | None) -> str:
    """A duration as people say it: 45s, 12m, 5h, 3d."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def _schedule(feed: Feed, poll: PollSettings) -> str:
    """How often the feed is polled and why."""
    every = _span(feed.interval(poll, utcnow()))
    if feed.poll_interval:
        return f"every {every} (set by `feeds set`)"
    if feed.entry_gap is None:
        return f"every {every} (poll.interval; its rhythm is not known yet)"
    stated = f", the publisher asks {_span(feed.stated_interval)}" if feed.stated_interval else ""
    return f"every {every} (new entries usually every {_span(feed.entry_gap)}{stated})"


def feed_json(feed: Feed, poll: PollSettings) -> dict[str, Any]:
    """What a user needs of a feed, in this order (no internal fields such as the body hash)."""
    return {
        "url": feed.url, "title": feed.title, "site_url": feed.site_url, "folder": feed.folder,
        "enabled": feed.enabled, "disabled_reason": feed.disabled_reason, "error_count": feed.error_count,
        "last_error": feed.last_error, "last_polled_at": iso(feed.last_polled_at),
        "last_success_at": iso(feed.last_success_at), "next_poll_at": iso(feed.next_poll_at),
        "created_at": iso(feed.created_at), "interval": feed.interval(poll, utcnow()),
        "interval_set": feed.poll_interval, "entry_gap": feed.entry_gap, "stated_interval": feed.stated_interval,
        "last_new_entry_at": iso(feed.last_new_entry_at), "silent": feed.is_silent(poll, utcnow()),
        "ignore_robots": feed.ignore_robots,
    }


def _robots(feed: Feed, withheld: dict[str, int]) -> str:
    """Whether the feed's article pages follow robots.txt, and what it kept from being fetched."""
    if feed.ignore_robots:
        return "ignored for this feed's article pages (`feeds set --ignore-robots`)"
    kept = "; ".join(f"{plural(n, 'article')} stored from the feed's text: {why}"
                     for why, n in sorted(withheld.items()))
    return "obeyed for article pages" + (f" ({kept})" if kept else "")


def _added(checked: CheckedFeed, feed: Feed, created: bool) -> str:
    what = f"{feed.url} ({checked.title or 'untitled'}, {plural(checked.entries, 'entry', 'entries')})"
    found = f", the feed of {checked.discovered_from}" if checked.discovered_from else ""
    return f"{'added' if created else 'already present'}: {what}{found}"


@feeds.command("add")
@click.argument("urls", nargs=-1, required=True)
@click.option("--no-check", is_flag=True, help="Add without fetching the URLs first.")
@pass_ctx
def feeds_add(ctx: Context, urls: tuple[str, ...], no_check: bool) -> None:
    """Add feeds by URL (polled at the next tick).

    Each new URL is fetched first: it must be a feed, or a page that names its feed with <link rel="alternate">
    (that feed is added). When one fails nothing is added."""
    from monitor.ingest.discovery import CheckedFeed, FeedCheckError, check_feeds
    from monitor.ingest.fetcher import check_feed_url

    store = ctx.app.store
    new = []
    for url in (check_feed_url(u, ctx.settings.http) for u in urls):
        present = store.feed(url)
        if present is not None:
            click.echo(f"already present: {present.url}")
        else:
            new.append(url)
    if no_check:
        for url in new:
            click.echo(f"added without a check: {store.add_feed(url)[0].url}")
        return
    results = asyncio.run(check_feeds(ctx.settings.http, new)) if new else []
    failed = [str(r) for r in results if isinstance(r, FeedCheckError)]
    if failed:
        raise MonitorError("; ".join(failed) + " — nothing added (--no-check adds without fetching)")
    for checked in results:
        if isinstance(checked, CheckedFeed):
            feed, created = store.add_feed(checked.url, checked.title, checked.site_url)
            click.echo(_added(checked, feed, created))


@feeds.command("remove")
@click.argument("urls", nargs=-1, required=True)
@pass_ctx
def feeds_remove(ctx: Context, urls: tuple[str, ...]) -> None:
    """Remove feeds (their articles stay). An unknown URL is an error; nothing is removed then."""
    store = ctx.app.store
    found = [find_feed(store, url) for url in urls]
    for feed in found:
        store.remove_feed(feed.url)
        click.echo(f"removed: {feed.url}")


@feeds.command("list")
@json_option("JSON Lines, one feed a line")
@pass_ctx
def feeds_list(ctx: Context, as_json: bool) -> None:
    """List feeds with their state."""
    rows, poll = ctx.app.store.feeds(), ctx.settings.poll
    if not rows:
        nothing("no feeds yet: add one with `monitor feeds add URL` or `monitor feeds import FILE.opml`")
    for feed in rows:
        if as_json:
            echo_json(feed_json(feed, poll))
        else:
            click.echo(f"{feed.url}\t{feed.title or '-'}\tpolled {shown(feed.last_polled_at)}\t{_state(feed, poll)}")


@feeds.command("show")
@click.argument("url")
@json_option("JSON: the feed and its fetch history")
@pass_ctx
def feeds_show(ctx: Context, url: str, as_json: bool) -> None:
    """One feed's state and recent fetch history."""
    store, poll = ctx.app.store, ctx.settings.poll
    feed = find_feed(store, url)
    assert feed.id is not None
    history = store.fetch_history(feed.id)
    withheld = store.robots_withheld(feed.id)
    if as_json:
        echo_json(feed_json(feed, poll) | {"robots_withheld": withheld, "history": [
            {"started_at": iso(row.started_at), "outcome": row.outcome, "status": row.status_code,
             "duration_ms": row.duration_ms, "bytes": row.bytes, "entries": row.entries,
             "new_articles": row.new_articles, "error": row.error}
            for row in history
        ]})
        return
    click.echo(f"url: {feed.url}\ntitle: {feed.title or '-'}\nsite: {feed.site_url or '-'}")
    if feed.folder:
        click.echo(f"folder: {feed.folder}")
    click.echo(f"state: {_state(feed, poll)}\nschedule: {_schedule(feed, poll)}")
    click.echo(f"robots.txt: {_robots(feed, withheld)}")
    click.echo(f"last polled: {shown(feed.last_polled_at)}\nlast success: {shown(feed.last_success_at)}")
    click.echo(f"next poll: {shown(feed.next_poll_at)}\nadded: {shown(feed.created_at)}")
    click.echo("history:" + ("" if history else " -"))
    for row in history:
        click.echo(
            f"  {shown(row.started_at)} {row.outcome} status={row.status_code} {row.duration_ms}ms "
            f"{row.bytes}B entries={row.entries} new={row.new_articles}" + (f" error={row.error}" if row.error else "")
        )


@feeds.command("enable")
@click.argument("urls", nargs=-1, required=True)
@pass_ctx
def feeds_enable(ctx: Context, urls: tuple[str, ...]) -> None:
    """Poll feeds again (say, one disabled by a 410), at once and with a clean error count; history kept."""
    store = ctx.app.store
    for feed in [find_feed(store, url) for url in urls]:
        store.set_feed_enabled(feed.url, True)
        click.echo(f"enabled: {feed.url}" + ("" if feed.enabled else f" (was disabled: {feed.disabled_reason})"))


@feeds.command("disable")
@click.argument("urls", nargs=-1, required=True)
@pass_ctx
def feeds_disable(ctx: Context, urls: tuple[str, ...]) -> None:
    """Stop polling feeds without removing them (their articles and history stay)."""
    store = ctx.app.store
    for feed in [find_feed(store, url) for url in urls]:
        store.set_feed_enabled(feed.url, False, f"disabled by `monitor feeds disable` on {shown(utcnow())}")
        click.echo(f"disabled: {feed.url}")


@feeds.command("set")
@click.argument("url")
@click.option("--interval", type=click.IntRange(min=0), metavar="SECONDS",
              help="Poll this feed every SECONDS (0: follow its rhythm again).")
@click.option("--ignore-robots/--obey-robots", default=None,
              help="Fetch this feed's article pages whatever the site's robots.txt says (only with the publisher's "
                   "permission), or obey robots.txt again (the default). The feed itself is polled either way.")
@pass_ctx
def feeds_set(ctx: Context, url: str, interval: int | None, ignore_robots: bool | None) -> None:
    """Fix one feed's poll interval, or (0) let it follow the feed's rhythm again (the next poll moves at once);
    fetch its article pages regardless of robots.txt, or not."""
    poll = ctx.settings.poll
    if interval is None and ignore_robots is None:
        raise click.UsageError("nothing to set: give --interval, --ignore-robots or --obey-robots")
    if interval and not poll.min_interval <= interval <= poll.max_interval:
        raise MonitorError(f"--interval {interval}: between poll.min_interval ({poll.min_interval:g}) and "
                           f"poll.max_interval ({poll.max_interval:g}) seconds, or 0")
    store = ctx.app.store
    url = find_feed(store, url).url
    if ignore_robots is not None:
        feed = store.set_feed_ignore_robots(url, ignore_robots)
        assert feed is not None
        click.echo(f"{feed.url}: robots.txt {_robots(feed, {})}")
    if interval is not None:
        feed = store.set_feed_interval(url, interval or None, poll)
        assert feed is not None
        click.echo(f"{feed.url}: {_schedule(feed, ctx.settings.poll)}")


@feeds.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@pass_ctx
def feeds_import(ctx: Context, file: Path) -> None:
    """Import feeds from an OPML file (folders and htmlUrl kept)."""
    from monitor.ingest.opml import read_opml
    from monitor.service.app import add_feeds

    opml = read_opml(file)
    added = sum(created for _url, created in add_feeds(ctx.app, opml.feeds))
    present = len(opml.feeds) - added
    notes = [f"{present} already present"] if present else []
    if opml.skipped:
        notes.append(f"{plural(opml.skipped, 'outline')} without an xmlUrl (not a feed) skipped")
    if not opml.feeds:
        raise MonitorError(f"no feeds in {file}: no outline has an xmlUrl" + (f" ({notes[-1]})" if notes else ""))
    click.echo(f"imported {plural(added, 'new feed')} from {file}" + (f" ({'; '.join(notes)})" if notes else ""))


@feeds.command("export")
@pass_ctx
def feeds_export(ctx: Context) -> None:
    """Print the feed list as OPML (folders and htmlUrl kept)."""
    from monitor.ingest.opml import OpmlFeed, write_opml

    feeds_ = [OpmlFeed(f.url, f.title, f.site_url, f.folder) for f in ctx.app.store.feeds()]
    click.echo(write_opml(feeds_), nl=False)
