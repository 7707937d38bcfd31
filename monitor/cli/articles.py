"""``monitor articles``, ``tags``, ``statements``, ``stories`` and ``retag``."""

from __future__ import annotations

import json
from typing import Any

import click

from monitor.cli.base import Context, parse_since, pass_ctx
from monitor.errors import MonitorError
from monitor.models import Article
from monitor.models import Statement as StatementRow
from monitor.processor import Options, analyse, analysis_rows, tagger
from monitor.storage import Store

EVIDENCE_SHOWN = 6


def _short(text: str, limit: int = 140) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


@click.group()
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
    rows = store.articles(since=parse_since(since), feed_url=feed_url, limit=limit, tag=tag)
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
        click.echo(f"  {s.url} (feed {feed_urls.get(s.feed_id, '-')}, {s.seen_at:%Y-%m-%d %H:%M})")
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


@click.command()
@click.option("--since", help="Only articles published (or fetched) since this date.")
@pass_ctx
def retag(ctx: Context, since: str | None) -> None:
    """Tag stored articles again with the current rules (after editing config/tags.toml or officials.toml)."""
    store, options = ctx.app.store, Options.from_settings(ctx.settings)
    after = parse_since(since)
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


@click.group()
def statements() -> None:
    """Statements by UK defence voices."""


@statements.command("list")
@click.option("--speaker", help="Speaker name or role contains this (case-insensitive).")
@click.option("--since", help="Only from articles published (or fetched) since this date.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one statement a line.")
@pass_ctx
def statements_list(ctx: Context, speaker: str | None, since: str | None, as_json: bool) -> None:
    """List statements, newest article first."""
    for st, article in ctx.app.store.statements(speaker=speaker, since=parse_since(since)):
        if as_json:
            item = {"article_id": article.id, "title": article.title, **statement_json(st)}
            click.echo(json.dumps(item, ensure_ascii=False))
        else:
            click.echo(f"{article.id}  {st.label()}: {st.text}")


@click.group()
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
    rows = store.stories(parse_since(since), min_size)
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
