"""``monitor run``, ``poll --once``, ``health``, ``stats``.

``run`` and ``poll`` check the tagging config before anything else (they tag what they fetch), and so does
``stats`` (it reports on the setup); ``health`` does not load the tagger."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

import click

from monitor.cli.base import Context, echo_json, find_feed, json_option, pass_ctx, plural, shown
from monitor.core.errors import MonitorError
from monitor.service.app import open_pipeline
from monitor.service.health import HEALTH_MIN_AGE, health_problems
from monitor.store.engine import describe
from monitor.store.instance import hold_polling_lock, instance_id, log_instance
from monitor.store.models import utcnow
from monitor.store.readmodels import iso


@click.command()
@pass_ctx
def run(ctx: Context) -> None:
    """Run the daemon: poll due feeds on every tick until SIGTERM/SIGINT."""
    from monitor.service.daemon import run_daemon

    _become_poller(ctx)
    asyncio.run(run_daemon(ctx.app))


def _become_poller(ctx: Context) -> None:
    """Refuse to start with a broken tagging config, or beside another poller of an SQLite file; as its sole
    poller, clear the feed claims a killed process left there. On PostgreSQL instances share the work and a dead
    one's claims expire."""
    ctx.tagging()
    if hold_polling_lock(ctx.settings):
        ctx.app.store.release_leases(None)
    log_instance(instance_id(ctx.settings))


@click.command()
@click.option("--once", is_flag=True, help="Poll every due feed once, then exit (required; `monitor run` loops).")
@click.option("--feed", "feed_url", metavar="URL", help="Only this feed (if it is due; with --now, in any case).")
@click.option("--now", is_flag=True, help="With --feed: poll it now whatever its schedule, resetting its back-off.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_ctx
def poll(ctx: Context, once: bool, feed_url: str | None, now: bool, as_json: bool) -> None:
    """Poll every due feed once (new feeds are due at once) and print a summary.

    Exits 0 even when some feeds failed (their errors are in the summary)."""
    if not once:
        raise MonitorError("`monitor poll` needs --once (one cycle, then exit); `monitor run` polls continuously")
    if now and not feed_url:
        raise MonitorError("--now needs --feed URL (the feed to poll whatever its schedule)")
    _become_poller(ctx)
    app = ctx.app
    feed_id = None
    if feed_url:
        feed = find_feed(app.store, feed_url)
        if not feed.enabled:
            raise MonitorError(f"{feed.url} is disabled ({feed.disabled_reason}): `monitor feeds enable URL` first")
        feed_id = feed.id

    async def cycle() -> dict[str, Any]:
        # SIGTERM/SIGINT cancel the cycle as they stop the daemon: the pipeline and its workers close cleanly,
        # stored articles stay stored, feeds not finished are polled again next time.
        task, loop = asyncio.current_task(), asyncio.get_running_loop()
        assert task is not None
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        async with open_pipeline(app) as pipeline:
            return (await pipeline.run_cycle(feed_id, force=now)).as_dict()

    try:
        summary = asyncio.run(cycle())
    except asyncio.CancelledError:
        click.echo("poll stopped by a signal before the cycle ended; what was stored stays stored", err=True)
        return
    store = app.store
    next_due = store.next_due()
    pending = store.alert_count(["pending"]) if app.settings.subscriptions else 0
    if as_json:
        echo_json(summary | {"next_due": iso(next_due), "alerts_pending": pending})
        return
    if not summary["feeds"]:
        if not store.feed_count():
            click.echo("no feeds yet: add one with `monitor feeds add URL` or `monitor feeds import FILE.opml`")
        elif next_due is None:
            click.echo("nothing to poll: every feed is disabled (`monitor feeds list` says why)")
        else:
            click.echo(f"nothing due: the next feed is due at {shown(next_due)}")
        return
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(summary["outcomes"].items())) or "none"
    click.echo(f"polled {plural(summary['feeds'], 'feed')} in {summary['seconds']:.1f}s ({outcomes})")
    if summary["network_unreachable"]:
        click.echo("the network looks unreachable: every feed failed to resolve or connect; check this machine's "
                   "network, DNS or proxy (http.proxy)")
    click.echo(
        f"articles: {summary['articles_new']} new, {plural(summary['articles_duplicate'], 'duplicate')}, "
        f"{plural(summary['entries_seen'], 'entry', 'entries')} seen before, {summary['entries_empty']} without text"
    )
    for error in summary["errors"]:
        click.echo(f"error: {error['feed']}: {error['error']}")
    if pending:
        click.echo(f"alerts: {pending} pending, not sent by `poll --once`: `monitor alerts send` sends them "
                   "(the daemon does on its own)")


@click.command()
@pass_ctx
def health(ctx: Context) -> None:
    """Exit 0 when the daemon ticked recently and the database answers; 1 with the reason otherwise (never 2,
    which Docker's HEALTHCHECK reserves: a config or database that cannot be opened is unhealthy too)."""
    try:
        age, problems = health_problems(ctx.settings, ctx.app.store)
    except MonitorError as exc:
        click.echo(f"unhealthy: {exc}", err=True)
        sys.exit(1)
    if problems:
        click.echo("unhealthy: " + "; ".join(problems), err=True)
        sys.exit(1)
    click.echo(f"ok: heartbeat {age:.0f}s ago, database answers")


@click.command()
@json_option("JSON")
@pass_ctx
def stats(ctx: Context, as_json: bool) -> None:
    """The config file and database in use, feeds, articles, errors and the last poll."""
    settings = ctx.settings
    ctx.tagging()  # the command that checks a setup: a broken tagging config is refused as by `poll`
    store = ctx.app.store
    s = store.stats()
    where = {"config": str(settings.config_file or "(built-in defaults)"), "database": describe(settings.database_url)}
    max_age, when = max(3 * settings.poll.tick, HEALTH_MIN_AGE), utcnow()
    live = [i for i in store.instances() if i.is_live(when, max_age)]
    silent = store.silent_feeds(settings.poll, when)
    if as_json:
        echo_json(where | {
            "feeds": s.feeds, "feeds_enabled": s.feeds_enabled, "feeds_failing": s.feeds_failing,
            "articles": s.articles, "articles_by_source": s.articles_by_source, "last_poll": iso(s.last_poll),
            "errors": [{"feed": url, "consecutive": count, "error": error} for url, count, error in s.errors],
            "feeds_silent": [f.url for f in silent],
            "instances": [{"id": i.id, "host": i.host, "pid": i.pid, "started_at": iso(i.started_at),
                           "heartbeat_at": iso(i.heartbeat_at)} for i in live],
        })
        return
    sources = ", ".join(f"{k} {v}" for k, v in sorted(s.articles_by_source.items()))
    click.echo(f"config: {where['config']}\ndatabase: {where['database']}")
    click.echo(f"feeds: {s.feeds} ({s.feeds_enabled} enabled, {s.feeds_failing} failing)")
    click.echo(f"articles: {s.articles} ({sources or 'none'})")
    click.echo(f"last poll: {shown(s.last_poll)}")
    click.echo(f"instances: {len(live)} live" + ("" if live else " (no daemon's heartbeat in the last "
                                                   f"{max_age:.0f}s)"))
    for i in live:
        age = int((when - i.heartbeat_at).total_seconds())
        click.echo(f"instance: {i.id} since {shown(i.started_at)}, heartbeat {age}s ago")
    for url, count, error in s.errors:
        click.echo(f"error: {url}: {count} consecutive: {error}")
    for feed in silent:
        click.echo(f"silent: {feed.url}: answers, but no new entry since {shown(feed.last_new_entry_at)}")
