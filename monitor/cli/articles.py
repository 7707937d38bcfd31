"""``monitor articles``, ``tags``, ``statements``, ``stories`` and ``retag``.

Browsing reads the database only; the tagger loads in the commands that tag (``retag``, ``tags explain``) and for
``articles list --tag`` (to tell an unknown tag)."""

from __future__ import annotations

import click

from monitor.cli.base import (
    Context,
    echo_json,
    find_feed,
    json_option,
    limit_option,
    limited,
    nothing,
    parse_since,
    pass_ctx,
    plural,
    query_limit,
    shown,
)
from monitor.core.errors import MonitorError
from monitor.store import Store
from monitor.store.models import Article
from monitor.store.query import parse_query
from monitor.store.readmodels import articles_json, iso, quoted, statement_entries
from monitor.store.search import ArticleFilter, ArticleSearch, Order

EVIDENCE_SHOWN = 6


def _short(text: str, limit: int = 140) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@click.group()
def articles() -> None:
    """Browse stored articles."""


@articles.command("list")
@click.option("--since", help="Only articles published (or fetched) since then: 2026-05-01, 2d, 12h, yesterday …")
@click.option("--feed", "feed_url", help="Only articles seen in this feed.")
@limit_option()
@click.option("--tag", help="Only articles with this tag.")
@click.option("--query", "-q", help='Search: words, "phrases", OR, -exclusion, prefix*, title: speaker: tag: feed:.')
@click.option(
    "--order", type=click.Choice([o.value for o in Order]), default=Order.NEWEST.value, show_default=True,
    help="Newest first, or best match first (with --query).",
)
@json_option("JSON Lines, one article a line")
@pass_ctx
def articles_list(
    ctx: Context, since: str | None, feed_url: str | None, limit: int, tag: str | None, query: str | None,
    order: str, as_json: bool,
) -> None:
    """List articles, newest first (or by relevance to --query)."""
    store = ctx.app.store
    if feed_url:
        feed_url = find_feed(store, feed_url).url
    if tag:
        from monitor.ingest.processor import tagger

        known = {rule.name for rule in tagger(ctx.tagging()).rules} | store.tag_names()
        if tag not in known:
            raise MonitorError(f"unknown tag {tag!r} (known: {', '.join(sorted(known))})")
    wanted = ArticleFilter(query=parse_query(query) if query else None, tag=tag, feed_url=feed_url,
                           since=parse_since(since))
    rows = limited(ArticleSearch(store.engine).find(wanted, limit=query_limit(limit), order=Order(order)).articles,
                   limit)
    if not rows:
        nothing("no articles match")
    if as_json:
        for item in articles_json(store, list(rows)):
            echo_json(item)
        return
    for a in rows:
        when = a.published.strftime("%Y-%m-%d") if a.published else "-"
        tags = f"  [{', '.join(a.tags)}]" if a.tags else ""
        click.echo(f"{a.id}  {when:<10}  {a.source:<4}  {a.title or '(untitled)'}{tags}")


def find_article(store: Store, article_id: str) -> Article:
    article = store.article(article_id)
    if article is None:
        raise MonitorError(f"no article with id {article_id}")
    return article


@articles.command("show")
@click.argument("article_id")
@json_option("JSON, as one line of `articles list --json`")
@pass_ctx
def articles_show(ctx: Context, article_id: str, as_json: bool) -> None:
    """Show one article with every place it was seen."""
    store = ctx.app.store
    article = find_article(store, article_id)
    if as_json:
        echo_json(articles_json(store, [article])[0])
        return
    feed_urls = store.feed_urls()
    click.echo(f"id: {article.id}\ntitle: {article.title or '(untitled)'}")
    click.echo(f"published: {shown(article.published, '-')}\nfetched: {shown(article.fetched_at)}")
    for key in ("source", "extraction_method", "site_name", "language", "canonical_url"):
        click.echo(f"{key}: {getattr(article, key) or '-'}")
    click.echo(f"authors: {', '.join(article.authors) or '-'}")
    click.echo("tags:" + ("" if article.tags else " -"))
    for t in store.tag_details([article.id])[article.id]:
        click.echo(f"  {t.tag} (score {t.score:.2f})")
        for e in t.evidence[:EVIDENCE_SHOWN]:
            click.echo(f"    {e.get('kind')}: {_short(str(e.get('text')))}")
        if len(t.evidence) > EVIDENCE_SHOWN:
            click.echo(f"    … {len(t.evidence) - EVIDENCE_SHOWN} more (`monitor tags explain {article.id}`)")
    found = store.statements([article.id])
    click.echo("statements:" + ("" if found else " -"))
    for st, _a in found:
        click.echo(f"  {st.label()}: {st.text}")
    click.echo("seen at:")
    for s in store.sightings([article.id])[article.id]:
        click.echo(f"  {s.url} (feed {feed_urls.get(s.feed_id, '-')}, {shown(s.seen_at)})")
    story = article.story_id or article.id
    copies = [a for a in store.story_members([story])[story] if a.id != article.id]
    click.echo(f"story: {story}" + ("" if copies else " (no other copies)"))
    for other in copies:
        role = "copy of this" if other.duplicate_of == article.id else "same story"
        click.echo(f"  {other.id}  {other.site_name or other.url or other.source}  {other.title or ''}  ({role})")
    click.echo("\n" + article.text)


# --- tags, statements, stories ------------------------------------------------------------------------


@click.group()
def tags() -> None:
    """Why articles were tagged."""


@tags.command("explain")
@click.argument("article_id")
@json_option("JSON: every decision with its score, threshold, evidence and statements")
@pass_ctx
def tags_explain(ctx: Context, article_id: str, as_json: bool) -> None:
    """Print why each tag was or was not given to an article (with the current rules)."""
    from monitor.ingest.processor import tagger

    options = ctx.tagging()
    article = find_article(ctx.app.store, article_id)
    result = tagger(options).tag(article.title, article.text, article.published)
    if as_json:
        echo_json({"id": article.id, "title": article.title, "stored_tags": article.tags, "tags": result.tags,
                   "decisions": [d.as_dict() for d in result.decisions]})
        return
    click.echo(f"{article.id}  {article.title or '(untitled)'}")
    for decision in result.decisions:
        click.echo(decision.explain())
    if sorted(result.tags) != sorted(article.tags):
        click.echo(f"stored tags differ: {', '.join(article.tags) or '-'} (run `monitor retag` after a rules change)")


@click.command()
@click.option("--since", help="Only articles published (or fetched) since then: 2026-05-01, 2d, yesterday …")
@pass_ctx
def retag(ctx: Context, since: str | None) -> None:
    """Tag stored articles again with the current rules (after editing config/tags.toml or officials.toml)."""
    from monitor.core.progress import progress
    from monitor.ingest.processor import analyse, analysis_rows

    options = ctx.tagging()
    store = ctx.app.store
    after = parse_since(since)
    changed = total = 0
    for article in progress(store.iter_articles_in_storage_order(), "articles", store.article_count()):
        if after and (article.published or article.fetched_at) < after:
            continue
        analysis = analyse(article.title, article.text, article.published, options)
        names = [t.tag for t in analysis.tags]
        changed += sorted(names) != sorted(article.tags)
        store.replace_analysis(article.id, names, *analysis_rows(article, analysis))
        total += 1
    click.echo(f"retagged {plural(total, 'article')}, {changed} with different tags")


@click.group()
def statements() -> None:
    """Statements by UK defence voices."""


@statements.command("list")
@click.option("--speaker", help="Speaker name or role contains this (case-insensitive).")
@click.option("--since", help="Only from articles published (or fetched) since then: 2026-05-01, 2d, yesterday …")
@limit_option()
@json_option("JSON Lines, one statement a line")
@pass_ctx
def statements_list(ctx: Context, speaker: str | None, since: str | None, limit: int, as_json: bool) -> None:
    """List statements, newest publication first (undated last); a statement several articles carry is listed
    once, with each of them."""
    window = (limit + 1) * 10 if limit else None  # reports of one statement are grouped within this many rows
    rows = ctx.app.store.statements(speaker=speaker, since=parse_since(since), limit=window)
    entries = limited(statement_entries(rows), limit)
    if not entries:
        nothing("no statements match")
    for entry in entries:
        if as_json:
            echo_json(entry)
            continue
        who = f"{entry['speaker']} ({entry['role']})" if entry["speaker"] and entry["role"] else (
            entry["speaker"] or entry["role"] or "unknown speaker")
        sources = ", ".join(s["article_id"] for s in entry["sources"])
        words = quoted(entry["kind"], entry["text"])
        click.echo(f"{(entry['date'] or 'undated')[:10]:<10}  {who}: {words}  [{sources}]")


@click.group()
def stories() -> None:
    """Near-duplicate copies of one story, grouped."""


@stories.command("list")
@click.option("--since", help="Only stories with an article fetched since then: 2026-05-01, 2d, yesterday …")
@click.option("--min-size", type=click.IntRange(min=1), default=2, show_default=True,
              help="At least this many articles (1: every article is a story of its own too).")
@limit_option()
@json_option("JSON Lines, one story a line")
@pass_ctx
def stories_list(ctx: Context, since: str | None, min_size: int, limit: int, as_json: bool) -> None:
    """List stories, most recently active first."""
    store = ctx.app.store
    rows = limited(store.stories(parse_since(since), min_size, query_limit(limit)), limit)
    if not rows:
        nothing("no stories match")
    members = store.story_members([sid for sid, _n, _t in rows])
    for sid, size, latest in rows:
        arts = members[sid]
        title = arts[0].title if arts else None
        if as_json:
            echo_json({
                "story_id": sid, "size": size, "latest": iso(latest), "title": title,
                "articles": [
                    {"id": a.id, "title": a.title, "url": a.url, "duplicate_of": a.duplicate_of} for a in arts
                ],
            })
        else:
            click.echo(f"{sid}  {plural(size, 'article')}  {shown(latest)}  {title or '(untitled)'}")
