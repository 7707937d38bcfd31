"""The JSON API under /api/v1/: articles (the objects of `monitor articles list --json`), statements, stories,
feeds. Bad parameters are a 4xx with a message."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from monitor.store.readmodels import (
    article_summary_json,
    articles_json,
    feed_json,
    statement_entries,
    stories_json,
    story_json,
)
from monitor.store.search import Order
from monitor.web.context import Web, article_filter, parse_date, query_of, web

router = APIRouter(prefix="/api/v1", tags=["api"])
MAX_LIMIT = 500
Limit = Annotated[int | None, Query(ge=1, le=MAX_LIMIT, description="Items per page (default: web.page_size).")]


@router.get("/articles")
def list_articles(
    w: Annotated[Web, Depends(web)],
    q: Annotated[str | None, Query(description='Search: words, "phrases", OR, -word, prefix*, title: speaker: '
                                               "tag: feed:")] = None,
    tag: str | None = None,
    feed: Annotated[str | None, Query(description="A feed URL: articles seen in it.")] = None,
    since: Annotated[str | None, Query(description="Published (else fetched) at or after: YYYY-MM-DD or ISO")] = None,
    until: Annotated[str | None, Query(description="Published (else fetched) before.")] = None,
    story: str | None = None,
    source: Annotated[str | None, Query(description="page, feed or seed")] = None,
    order: Order = Order.NEWEST,
    limit: Limit = None,
    cursor: Annotated[str | None, Query(description="The `next` of the previous page.")] = None,
    full: Annotated[bool, Query(description="The whole text instead of a snippet with highlights.")] = False,
) -> dict[str, Any]:
    """Articles, newest first (or by relevance to `q`): `{"items": [...], "next": cursor or null}`."""
    wanted = w.checked(article_filter(q, tag, feed, since, until, story, source))
    page = w.search.find(wanted, limit=limit or w.settings.web.page_size, cursor=cursor, order=order)
    items = articles_json(w.store, page.articles)
    if not full:
        items = [article_summary_json(item, wanted.query) for item in items]
    return {"items": items, "next": page.next}


@router.get("/articles/{article_id}")
def get_article(article_id: str, w: Annotated[Web, Depends(web)]) -> dict[str, Any]:
    """One article, in full."""
    article = w.store.article(article_id)
    if article is None:
        raise HTTPException(404, f"no article with id {article_id}")
    return articles_json(w.store, [article])[0]


@router.get("/statements")
def list_statements(
    w: Annotated[Web, Depends(web)],
    speaker: Annotated[str | None, Query(description="The speaker's name contains this.")] = None,
    role: Annotated[str | None, Query(description="The speaker's role contains this, e.g. Defence Secretary.")] = None,
    since: str | None = None,
    until: str | None = None,
    q: Annotated[str | None, Query(description="Search over the statements' articles.")] = None,
    limit: Limit = None,
) -> dict[str, Any]:
    """Statements by UK defence voices, newest publication first (undated last): `{"items": [...]}`. A statement
    several articles carry is one item, its `sources` every such article and `date` the first it appeared."""
    rows = w.views.statements(
        speaker=speaker, role=role, since=parse_date(since, "since"), until=parse_date(until, "until"),
        query=query_of(q), limit=limit or w.settings.web.page_size,
    )
    return {"items": statement_entries(rows)}


@router.get("/stories")
def list_stories(
    w: Annotated[Web, Depends(web)],
    min_size: Annotated[int, Query(ge=1, description="Only stories with at least this many articles.")] = 2,
    since: Annotated[str | None, Query(description="Only stories with an article fetched since then.")] = None,
    limit: Limit = None,
) -> dict[str, Any]:
    """Stories (near-copies of one article across outlets), most recently active first: `{"items": [...]}`."""
    rows = stories_json(w.store, min_size, parse_date(since, "since"), limit or w.settings.web.page_size)
    return {"items": rows}


@router.get("/stories/{story_id}")
def get_story(story_id: str, w: Annotated[Web, Depends(web)]) -> dict[str, Any]:
    """A story's copies across outlets: who published first, each copy's lag, verbatim or rewritten."""
    story = story_json(w.store, story_id)
    if story is None:
        raise HTTPException(404, f"no story with id {story_id}")
    return story


@router.get("/feeds")
def list_feeds(w: Annotated[Web, Depends(web)]) -> dict[str, Any]:
    """Every feed's health: last poll and success, errors, back-off, next poll, silence."""
    activity, now = w.views.feed_activity(), datetime.now(UTC)
    return {"items": [feed_json(f, activity.get(f.id or 0), w.settings.poll, now) for f in w.store.feeds()]}
