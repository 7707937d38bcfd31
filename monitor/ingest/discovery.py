"""Checking a URL before it is added as a feed: it must answer with a feed, or be an HTML page that names one
with ``<link rel="alternate">`` (the feed is then added instead of the page)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urljoin

import lxml.html
from lxml import etree

from monitor.core.config import HttpSettings
from monitor.core.errors import MonitorError
from monitor.ingest.feedparse import FeedParseError, ParsedFeed, parse_feed
from monitor.ingest.fetcher import FEED_ACCEPT, Fetcher, FetchError

FEED_TYPES = {"application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json",
              "application/json"}


class FeedCheckError(MonitorError):
    """A URL given as a feed cannot be fetched, is not a feed, and names no feed."""


@dataclass(frozen=True)
class CheckedFeed:
    url: str  # the feed: the URL given, or the one the given HTML page names
    title: str | None
    site_url: str | None
    entries: int
    discovered_from: str | None = None  # the page the feed was found on


def alternate_feeds(html: bytes, base_url: str) -> list[str]:
    """The feeds an HTML page names (``<link rel="alternate" type="application/rss+xml" href=…>`` …), absolute,
    in page order."""
    try:
        doc = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    found = []
    for link in doc.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        href = (link.get("href") or "").strip()
        if "alternate" in rel and kind in FEED_TYPES and href:
            found.append(urljoin(base_url, href))
    return list(dict.fromkeys(found))


async def _fetch_feed(fetcher: Fetcher, url: str) -> tuple[ParsedFeed | None, bytes, str, str]:
    """The parsed feed at ``url`` (None when the document is not a feed), its bytes, final URL and why not."""
    try:
        result = await fetcher.fetch(url, accept=FEED_ACCEPT)
    except FetchError as exc:
        raise FeedCheckError(f"cannot fetch {url}: {exc}") from None
    try:
        return parse_feed(result.content, result.url, result.content_type), result.content, result.url, ""
    except FeedParseError as exc:
        return None, result.content, result.url, str(exc)


async def check_feed(fetcher: Fetcher, url: str) -> CheckedFeed:
    """Fetch ``url`` and make sure it is a feed, or find the feed its page names. Raises FeedCheckError."""
    parsed, content, final_url, why = await _fetch_feed(fetcher, url)
    if parsed is not None:
        return CheckedFeed(url, parsed.title, parsed.site_url, len(parsed.entries))
    named = alternate_feeds(content, final_url)
    if not named:
        raise FeedCheckError(f"{url} is not a feed ({why}) and names none (no <link rel=\"alternate\"> to a feed)")
    parsed, _content, _url, why = await _fetch_feed(fetcher, named[0])
    if parsed is None:
        raise FeedCheckError(f"{url} names the feed {named[0]}, which is not a feed: {why}")
    return CheckedFeed(named[0], parsed.title, parsed.site_url, len(parsed.entries), discovered_from=url)


async def check_feeds(settings: HttpSettings, urls: Sequence[str]) -> list[CheckedFeed | FeedCheckError]:
    """``check_feed`` for each URL, side by side; a failed check is returned, not raised."""
    fetcher = Fetcher(settings)
    try:
        results = await asyncio.gather(*(check_feed(fetcher, u) for u in urls), return_exceptions=True)
    finally:
        await fetcher.aclose()
    for r in results:
        if isinstance(r, BaseException) and not isinstance(r, FeedCheckError):
            raise r
    return [r for r in results if isinstance(r, CheckedFeed | FeedCheckError)]
