"""`/feed.atom`: any article filter as an Atom feed, for feed readers and other monitors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from feedgen.feed import FeedGenerator

from monitor import __version__
from monitor.store.readmodels import articles_json, snippet
from monitor.web.context import Web, article_filter, web

router = APIRouter()
ATOM_ENTRIES = 50
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@router.get("/feed.atom", response_class=Response, responses={200: {"content": {"application/atom+xml": {}}}})
def atom(
    request: Request,
    w: Annotated[Web, Depends(web)],
    q: str | None = None,
    tag: str | None = None,
    feed: str | None = None,
    since: str | None = None,
    source: str | None = None,
) -> Response:
    """The newest articles matching the filters (as `/api/v1/articles`), as Atom."""
    wanted = article_filter(q=q, tag=tag, feed=feed, since=since, source=source)
    rows = w.search.find(wanted, limit=ATOM_ENTRIES).articles
    base = str(request.base_url).rstrip("/")
    fg = FeedGenerator()
    fg.id(str(request.url))
    fg.title("monitor: " + (", ".join(f"{k}={v}" for k, v in request.query_params.items()) or "all articles"))
    fg.link(href=str(request.url), rel="self")
    fg.link(href=f"{base}/articles?{request.url.query}", rel="alternate")
    fg.generator("monitor", __version__)
    fg.updated(max((a.fetched_at for a in rows), default=EPOCH))
    for item, article in zip(reversed(articles_json(w.store, rows)), reversed(rows), strict=True):
        entry = fg.add_entry()
        entry.id(f"{base}/articles/{article.id}")
        entry.title(article.title or "(untitled)")
        entry.link(href=item["url"] or f"{base}/articles/{article.id}")
        entry.link(href=f"{base}/articles/{article.id}", rel="related")
        entry.updated(article.fetched_at)
        if article.published:
            entry.published(article.published)
        for author in article.authors:
            entry.author(name=author)
        for name in article.tags:
            entry.category(term=name)
        entry.summary(snippet(article.text, wanted.query)[0])
    return Response(fg.atom_str(pretty=True), media_type="application/atom+xml")

