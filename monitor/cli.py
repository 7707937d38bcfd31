"""Command line: ``monitor run``, ``monitor poll --once``, feeds, articles, seed/export, stats, health."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from sqlalchemy.exc import OperationalError

from monitor import __version__
from monitor.app import App, open_app, open_pipeline
from monitor.config import Settings, load_settings
from monitor.daemon import heartbeat_age, run_daemon
from monitor.errors import MonitorError
from monitor.logs import setup_logging
from monitor.models import Article
from monitor.opml import OpmlFeed, read_opml, write_opml
from monitor.processor import Options
from monitor.seeds import export_corpus, import_corpus, packaged_seed_dir

HEALTH_MIN_AGE = 60.0


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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config", type=click.Path(path_type=Path), help="Config file (default: MONITOR_CONFIG or ./config/monitor.toml)."
)
@click.version_option(__version__, prog_name="monitor")
@click.pass_context
def cli(ctx: click.Context, config: Path | None) -> None:
    """Monitor news feeds for the Russia-Ukraine war and UK defence statements."""
    ctx.obj = Context(config)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except MonitorError as exc:
        click.echo(f"monitor: error: {exc}", err=True)
        sys.exit(2)
    except OperationalError as exc:
        click.echo(f"monitor: error: database: {str(exc.orig).strip().splitlines()[0]}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


# --- service ------------------------------------------------------------------------------------------


@cli.command()
@pass_ctx
def run(ctx: Context) -> None:
    """Run the daemon: poll due feeds on every tick until SIGTERM/SIGINT."""
    asyncio.run(run_daemon(ctx.app))


@cli.command()
@click.option("--once", is_flag=True, help="Poll every due feed once, then exit (the only mode; `run` loops).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_ctx
def poll(ctx: Context, once: bool, as_json: bool) -> None:
    """Poll every due feed once (new feeds are due at once) and print a summary.

    Exits 0 even when some feeds failed (their errors are in the summary)."""
    app = ctx.app

    async def cycle() -> dict[str, Any]:
        async with open_pipeline(app) as pipeline:
            return (await pipeline.run_cycle()).as_dict()

    summary = asyncio.run(cycle())
    if as_json:
        click.echo(json.dumps(summary))
        return
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(summary["outcomes"].items())) or "none"
    click.echo(f"polled {summary['feeds']} feeds in {summary['seconds']:.1f}s ({outcomes})")
    click.echo(
        f"articles: {summary['articles_new']} new, {summary['articles_duplicate']} duplicates, "
        f"{summary['entries_seen']} entries seen before, {summary['entries_empty']} without text"
    )
    for error in summary["errors"]:
        click.echo(f"error: {error['feed']}: {error['error']}")


@cli.command()
@pass_ctx
def health(ctx: Context) -> None:
    """Exit 0 when the daemon ticked recently and the database answers; non-zero with a reason otherwise."""
    settings = ctx.settings
    max_age = max(3 * settings.poll.tick, HEALTH_MIN_AGE)
    age = heartbeat_age(Path(settings.heartbeat_file))
    problems = []
    if age is None:
        problems.append(f"no heartbeat at {settings.heartbeat_file} (is `monitor run` running?)")
    elif age > max_age:
        problems.append(f"last heartbeat {age:.0f}s ago (limit {max_age:.0f}s)")
    try:
        ctx.app.store.ping()
    except MonitorError as exc:
        problems.append(str(exc))
    if problems:
        click.echo("unhealthy: " + "; ".join(problems), err=True)
        sys.exit(1)
    click.echo(f"ok: heartbeat {age:.0f}s ago, database answers")


@cli.command()
@pass_ctx
def stats(ctx: Context) -> None:
    """Feeds, articles, errors and the last poll."""
    s = ctx.app.store.stats()
    sources = ", ".join(f"{k} {v}" for k, v in sorted(s.articles_by_source.items()))
    click.echo(f"feeds: {s.feeds} ({s.feeds_enabled} enabled, {s.feeds_failing} failing)")
    click.echo(f"articles: {s.articles} ({sources or 'none'})")
    click.echo(f"last poll: {s.last_poll.isoformat() if s.last_poll else 'never'}")
    for url, count, error in s.errors:
        click.echo(f"error: {url}: {count} consecutive: {error}")


# --- feeds --------------------------------------------------------------------------------------------


@cli.group()
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
        _feed, created = ctx.app.store.add_feed(url)
        click.echo(f"{'added' if created else 'already present'}: {url}")


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
    feed = next((f for f in store.feeds() if f.url == url), None)
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


# --- articles -----------------------------------------------------------------------------------------


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise MonitorError(f"not a date: {value!r} (use YYYY-MM-DD or an ISO 8601 time)") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def article_json(article: Article, urls: list[str], feed_url: str | None) -> dict[str, Any]:
    return {
        "id": article.id,
        "url": article.url or (urls[0] if urls else None),
        "urls": urls,
        "canonical_url": article.canonical_url,
        "title": article.title,
        "published": article.published.isoformat() if article.published else None,
        "feed": feed_url,
        "source": article.source,
        "site_name": article.site_name,
        "language": article.language,
        "authors": article.authors,
        "fetched_at": article.fetched_at.isoformat(),
        "text": article.text,
        "tags": article.tags,
    }


@cli.group()
def articles() -> None:
    """Browse stored articles."""


@articles.command("list")
@click.option("--since", help="Only articles published (or fetched) since this date.")
@click.option("--feed", "feed_url", help="Only articles seen in this feed.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one article a line.")
@pass_ctx
def articles_list(ctx: Context, since: str | None, feed_url: str | None, limit: int | None, as_json: bool) -> None:
    """List articles, newest first."""
    store = ctx.app.store
    rows = store.articles(since=_parse_since(since), feed_url=feed_url, limit=limit)
    if not as_json:
        for a in rows:
            when = a.published.strftime("%Y-%m-%d") if a.published else "-"
            click.echo(f"{a.id}  {when:<10}  {a.source:<4}  {a.title or '(untitled)'}")
        return
    seen = store.sightings([a.id for a in rows])
    feed_urls = {f.id: f.url for f in store.feeds()}
    for a in rows:
        urls = list(dict.fromkeys(s.url for s in seen[a.id]))
        click.echo(json.dumps(article_json(a, urls, feed_urls.get(a.feed_id)), ensure_ascii=False))


@articles.command("show")
@click.argument("article_id")
@pass_ctx
def articles_show(ctx: Context, article_id: str) -> None:
    """Show one article with every place it was seen."""
    store = ctx.app.store
    article = store.article(article_id)
    if article is None:
        raise MonitorError(f"no article with id {article_id}")
    feed_urls = {f.id: f.url for f in store.feeds()}
    click.echo(f"id: {article.id}\ntitle: {article.title or '(untitled)'}")
    for key in ("published", "source", "extraction_method", "site_name", "language", "canonical_url"):
        click.echo(f"{key}: {getattr(article, key) or '-'}")
    click.echo(f"authors: {', '.join(article.authors) or '-'}\ntags: {', '.join(article.tags) or '-'}")
    click.echo("seen at:")
    for s in store.sightings([article.id])[article.id]:
        click.echo(f"  {s.url} (feed {feed_urls.get(s.feed_id, '-')}, {s.seen_at:%Y-%m-%d %H:%M})")
    click.echo("\n" + article.text)


# --- corpus -------------------------------------------------------------------------------------------


@cli.command()
@click.argument("folder", required=False, type=click.Path(path_type=Path))
@pass_ctx
def seed(ctx: Context, folder: Path | None) -> None:
    """Import a folder of NNN_<id>.txt files (default: the packaged seed corpus), keeping their ids."""
    options = Options.from_settings(ctx.settings)
    imported, present = import_corpus(ctx.app.store, folder or packaged_seed_dir(), options)
    click.echo(f"imported {imported} articles, {present} already present")


@cli.command("export")
@click.argument("folder", type=click.Path(path_type=Path))
@pass_ctx
def export(ctx: Context, folder: Path) -> None:
    """Write every article as NNN_<id>.txt (storage order) plus index.jsonl."""
    count = export_corpus(ctx.app.store, folder)
    click.echo(f"exported {count} articles to {folder}")


# --- evaluations --------------------------------------------------------------------------------------


@cli.group("eval")
def evaluate() -> None:
    """Evaluation scripts over real data (feeds, ...)."""


@evaluate.command("feeds")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def eval_feeds(path: Path) -> None:
    """Parse every feed document under PATH: crashes and entries versus plain feedparser."""
    from monitor.evaluation.feeds import run as run_eval

    sys.exit(run_eval(path, sys.stdout))


__all__ = ["cli", "main"]

from monitor.alerts.cli import alerts  # noqa: E402

cli.add_command(alerts)
