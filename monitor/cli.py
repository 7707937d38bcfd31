"""Command line: ``monitor run``, ``monitor poll --once``, feeds, articles, seed/export, stats, health."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import OperationalError

from monitor import __version__
from monitor.app import App, add_feeds, open_app, open_pipeline
from monitor.config import Settings, load_settings
from monitor.daemon import run_daemon
from monitor.errors import MonitorError
from monitor.health import health_problems
from monitor.logs import setup_logging
from monitor.models import Article
from monitor.models import Statement as StatementRow
from monitor.opml import OpmlFeed, read_opml, write_opml
from monitor.processor import Options, analyse, analysis_rows, tagger
from monitor.seeds import export_corpus, import_corpus, packaged_seed_dir
from monitor.storage import Store


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
@click.option("--once", is_flag=True, help="Poll every due feed once, then exit (required; `monitor run` loops).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_ctx
def poll(ctx: Context, once: bool, as_json: bool) -> None:
    """Poll every due feed once (new feeds are due at once) and print a summary.

    Exits 0 even when some feeds failed (their errors are in the summary)."""
    if not once:
        raise MonitorError("`monitor poll` needs --once (one cycle, then exit); `monitor run` polls continuously")
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
    age, problems = health_problems(ctx.settings, ctx.app.store)
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


@feeds.command("add")
@click.argument("urls", nargs=-1, required=True)
@pass_ctx
def feeds_add(ctx: Context, urls: tuple[str, ...]) -> None:
    """Add feeds by URL (polled at the next tick)."""
    for url, created in add_feeds(ctx.app, [OpmlFeed(url, None) for url in urls]):
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
    added = sum(created for _url, created in add_feeds(ctx.app, read_opml(file)))
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


def statement_json(st: StatementRow) -> dict[str, Any]:
    return {
        "speaker": st.speaker, "role": st.role, "text": st.text, "field": st.field, "start": st.start, "end": st.end
    }


def articles_json(store: Store, rows: list[Article]) -> list[dict[str, Any]]:
    """The JSON form of articles: metadata, every URL seen, tags with evidence, statements, story."""
    ids = [a.id for a in rows]
    seen, details = store.sightings(ids), store.tag_details(ids)
    statements: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    for st, _article in store.statements(ids):
        statements[st.article_id].append(statement_json(st))
    feed_urls = {f.id: f.url for f in store.feeds()}
    result = []
    for a in rows:
        urls = list(dict.fromkeys(s.url for s in seen[a.id]))
        result.append({
            "id": a.id,
            "url": a.url or (urls[0] if urls else None),
            "urls": urls,
            "canonical_url": a.canonical_url,
            "title": a.title,
            "published": a.published.isoformat() if a.published else None,
            "feed": feed_urls.get(a.feed_id),
            "source": a.source,
            "site_name": a.site_name,
            "language": a.language,
            "authors": a.authors,
            "fetched_at": a.fetched_at.isoformat(),
            "story_id": a.story_id or a.id,
            "duplicate_of": a.duplicate_of,
            "tags": a.tags,
            "tag_details": {t.tag: {"score": t.score, "evidence": t.evidence} for t in details[a.id]},
            "statements": statements[a.id],
            "text": a.text,
        })
    return result


@cli.group()
def articles() -> None:
    """Browse stored articles."""


@articles.command("list")
@click.option("--since", help="Only articles published (or fetched) since this date.")
@click.option("--feed", "feed_url", help="Only articles seen in this feed.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many.")
@click.option("--tag", help="Only articles with this tag.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one article a line.")
@pass_ctx
def articles_list(
    ctx: Context, since: str | None, feed_url: str | None, limit: int | None, tag: str | None, as_json: bool
) -> None:
    """List articles, newest first."""
    store = ctx.app.store
    rows = store.articles(since=_parse_since(since), feed_url=feed_url, limit=limit, tag=tag)
    if as_json:
        for item in articles_json(store, rows):
            click.echo(json.dumps(item, ensure_ascii=False))
        return
    for a in rows:
        when = a.published.strftime("%Y-%m-%d") if a.published else "-"
        tags = f"  [{', '.join(a.tags)}]" if a.tags else ""
        click.echo(f"{a.id}  {when:<10}  {a.source:<4}  {a.title or '(untitled)'}{tags}")


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
    click.echo(f"authors: {', '.join(article.authors) or '-'}")
    click.echo("tags:" + ("" if article.tags else " -"))
    for t in store.tag_details([article.id])[article.id]:
        terms = ", ".join(
            f"statement by {e.get('speaker') or e.get('role')}" if e.get("kind") == "statement" else str(e.get("text"))
            for e in t.evidence
        )
        terms = terms if len(terms) <= 160 else terms[:157] + "..."
        click.echo(f"  {t.tag} (score {t.score:.2f}): {terms}")
    found = store.statements([article.id])
    click.echo("statements:" + ("" if found else " -"))
    for st, _a in found:
        who = ", ".join(x for x in (st.speaker, st.role) if x) or "unknown"
        click.echo(f"  {who}: {st.text}")
    click.echo("seen at:")
    for s in store.sightings([article.id])[article.id]:
        click.echo(f"  {s.url} (feed {feed_urls.get(s.feed_id, '-')}, {s.seen_at:%Y-%m-%d %H:%M})")
    story = article.story_id or article.id
    copies = [a for a in store.story_members([story])[story] if a.id != article.id]
    click.echo(f"story: {story}" + ("" if copies else " (no other copies)"))
    for other in copies:
        role = "copy of this" if other.duplicate_of == article.id else "same story"
        click.echo(f"  {other.id}  {other.site_name or other.url or other.source}  {other.title or ''}  ({role})")
    click.echo("\n" + article.text)


# --- tags, statements, stories ------------------------------------------------------------------------


@cli.group()
def tags() -> None:
    """Why articles were tagged."""


@tags.command("explain")
@click.argument("article_id")
@pass_ctx
def tags_explain(ctx: Context, article_id: str) -> None:
    """Print why each tag was or was not given to an article (with the current rules)."""
    article = ctx.app.store.article(article_id)
    if article is None:
        raise MonitorError(f"no article with id {article_id}")
    options = Options.from_settings(ctx.settings)
    result = tagger(options.tags_file, options.officials_file).tag(article.title, article.text, article.published)
    click.echo(f"{article.id}  {article.title or '(untitled)'}")
    for decision in result.decisions:
        click.echo(decision.explain())
    if sorted(result.tags) != sorted(article.tags):
        click.echo(f"stored tags differ: {', '.join(article.tags) or '-'} (run `monitor retag` after a rules change)")


@cli.command()
@click.option("--since", help="Only articles published (or fetched) since this date.")
@pass_ctx
def retag(ctx: Context, since: str | None) -> None:
    """Tag stored articles again with the current rules (after editing config/tags.toml or officials.toml)."""
    store, options = ctx.app.store, Options.from_settings(ctx.settings)
    after = _parse_since(since)
    changed = total = 0
    for article in store.iter_articles_in_storage_order():
        if after and (article.published or article.fetched_at) < after:
            continue
        analysis = analyse(article.title, article.text, article.published, options)
        names = [t.tag for t in analysis.tags]
        changed += sorted(names) != sorted(article.tags)
        store.replace_analysis(article.id, names, *analysis_rows(article, analysis))
        total += 1
    click.echo(f"retagged {total} articles, {changed} with different tags")


@cli.group()
def statements() -> None:
    """Statements by UK defence voices."""


@statements.command("list")
@click.option("--speaker", help="Speaker name or role contains this (case-insensitive).")
@click.option("--since", help="Only from articles published (or fetched) since this date.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one statement a line.")
@pass_ctx
def statements_list(ctx: Context, speaker: str | None, since: str | None, as_json: bool) -> None:
    """List statements, newest article first."""
    for st, article in ctx.app.store.statements(speaker=speaker, since=_parse_since(since)):
        if as_json:
            item = {"article_id": article.id, "title": article.title, **statement_json(st)}
            click.echo(json.dumps(item, ensure_ascii=False))
        else:
            who = ", ".join(x for x in (st.speaker, st.role) if x) or "unknown"
            click.echo(f"{article.id}  {who}: {st.text}")


@cli.group()
def stories() -> None:
    """Near-duplicate copies of one story, grouped."""


@stories.command("list")
@click.option("--since", help="Only stories with an article fetched since this date.")
@click.option("--min-size", type=click.IntRange(min=1), default=1, show_default=True, help="At least this many copies.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one story a line.")
@pass_ctx
def stories_list(ctx: Context, since: str | None, min_size: int, as_json: bool) -> None:
    """List stories, most recently active first."""
    store = ctx.app.store
    rows = store.stories(_parse_since(since), min_size)
    members = store.story_members([sid for sid, _n, _t in rows])
    for sid, size, latest in rows:
        arts = members[sid]
        if as_json:
            item = {
                "story_id": sid, "size": size, "latest": latest.isoformat(),
                "title": arts[0].title if arts else None,
                "articles": [
                    {"id": a.id, "title": a.title, "url": a.url, "duplicate_of": a.duplicate_of} for a in arts
                ],
            }
            click.echo(json.dumps(item, ensure_ascii=False))
        else:
            click.echo(f"{sid}  {size} copies  {latest:%Y-%m-%d %H:%M}  {arts[0].title if arts else ''}")


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
    """Evaluation scripts over real data (feeds, relevance, extraction, stories)."""


@evaluate.command("relevance")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def eval_relevance(ctx: Context, path: Path) -> None:
    """Precision/recall/F1 of the tags and speakers over a labelled JSON Lines file."""
    from monitor.evaluation.relevance import run as run_eval

    options = Options.from_settings(ctx.settings)
    sys.exit(run_eval(path, tagger(options.tags_file, options.officials_file), sys.stdout))


@evaluate.command("extraction")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def eval_extraction(path: Path) -> None:
    """Extraction P/R/F1 and time per page versus plain trafilatura (article-extraction benchmark layout)."""
    from monitor.evaluation.extraction import run as run_eval

    sys.exit(run_eval(path, sys.stdout))


@evaluate.command("stories")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@pass_ctx
def eval_stories(ctx: Context, path: Path) -> None:
    """Precision/recall of "same story" over all pairs of pages and their human-written bodies."""
    from monitor.evaluation.stories import run as run_eval

    sys.exit(run_eval(path, sys.stdout, Options.from_settings(ctx.settings).neardup))


@evaluate.command("feeds")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def eval_feeds(path: Path) -> None:
    """Parse every feed document under PATH: crashes and entries versus plain feedparser."""
    from monitor.evaluation.feeds import run as run_eval

    sys.exit(run_eval(path, sys.stdout))


__all__ = ["cli", "main"]

from monitor.alerts.cli import alerts  # noqa: E402

cli.add_command(alerts)
