"""`/feed.atom`: any article filter as an Atom feed, for feed readers and other monitors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from feedgen.feed import FeedGenerator

from monitor import __version__
from monitor.store.readmodels import snippet, web_urls
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
    wanted = w.checked(article_filter(q=q, tag=tag, feed=feed, since=since, source=source))
    rows = w.search.find(wanted, limit=ATOM_ENTRIES).articles
    base = w.base_url()  # from the settings, never the request's Host
    shown = [(k, v) for k, v in request.query_params.multi_items() if k != "key"]  # never echo a feed key
    query = urlencode(shown)
    fg = FeedGenerator()
    fg.id(f"{base}/feed.atom?{query}")
    fg.title("monitor: " + (", ".join(f"{k}={v}" for k, v in shown) or "all articles"))
    fg.link(href=f"{base}/feed.atom?{query}", rel="self")
    fg.link(href=f"{base}/articles?{query}", rel="alternate", type="text/html")
    fg.generator("monitor", __version__)
    fg.updated(max((a.appeared_at or a.appeared() for a in rows), default=EPOCH))
    related: dict[str, str] = {}  # the monitor's page → the source it stands beside
    links = web_urls(w.store, rows)
    for article in reversed(rows):
        source = links[article.id][0]
        entry = fg.add_entry()
        entry.id(f"{base}/articles/{article.id}")
        entry.title(article.title or "(untitled)")
        page = f"{base}/articles/{article.id}"
        # one alternate, the source (RFC 4287 allows one per type); the monitor's page is related
        entry.link(href=source or page, rel="alternate", type="text/html")
        if source:
            entry.link(href=page, rel="related", type="text/html")
            related[page] = source
        entry.updated(article.appeared_at or article.appeared())  # published, else first fetched
        if article.published:
            entry.published(article.published)
        for author in article.authors:
            entry.author(name=author)
        for name in article.tags:
            entry.category(term=name)
        entry.summary(snippet(article.text, wanted.query)[0])
    return Response(_with_link_relations(fg.atom_str(pretty=True), related), media_type="application/atom+xml")


def _with_link_relations(document: bytes, related: dict[str, str]) -> bytes:
    """feedgen (1.0) writes an entry's links without their ``rel`` and ``type``, so a reader takes the monitor's
    page for the source: put them back (the source ``alternate``, the monitor's page ``related``)."""
    from lxml import etree

    root = etree.fromstring(document)
    for link in root.iterfind("{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}link"):
        href = link.get("href", "")
        link.set("rel", "related" if href in related else "alternate")
        link.set("type", "text/html")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)

