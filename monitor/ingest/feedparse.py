"""Feed parsing: RSS 0.9x/1.0/2.0, Atom and malformed XML via feedparser (on bytes), plus JSON Feed.

The pipeline parses in its worker processes: feedparser and lxml are imported by the functions that use them,
so the main process, which needs only this module's types, never loads them.
"""

from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from monitor.dedup.exact import http_url

_BLOCK_TAGS = {
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "table",
    "section", "article", "header", "footer", "pre", "figure", "figcaption", "hr",
}
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


class FeedParseError(Exception):
    """The document is not a feed that can be read at all."""


@dataclass(frozen=True)
class FeedEntry:
    guid: str | None
    link: str | None
    title: str | None
    text: str  # the entry's own content (or summary) as plain text
    published: datetime | None
    authors: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    site_url: str | None
    entries: list[FeedEntry] = field(default_factory=list)
    bozo: str | None = None  # why the XML was malformed, when feedparser read it anyway
    stated_interval: float | None = None  # seconds between updates the feed states (RSS <ttl>, sy:updatePeriod)


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment, one line per block element."""
    if not markup or ("<" not in markup and "&" not in markup):
        return (markup or "").strip()
    import lxml.html
    from lxml import etree

    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return markup.strip()
    for bad in root.xpath("//script|//style"):
        bad.drop_tree()
    parts: list[str] = []
    for element in root.iter():
        if element.tag in _BLOCK_TAGS:
            parts.append("\n" if element.tag == "br" else "\n\n")
        if element.text and not isinstance(element, etree._Comment):
            parts.append(element.text)
        if element is not root and element.tail:
            parts.append(element.tail)
    text = _SPACES.sub(" ", "".join(parts))
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def parse_feed(content: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a feed document from its bytes. Raises FeedParseError when nothing can be read."""
    if _looks_like_json(content, content_type):
        return _parse_json_feed(content, url)
    import feedparser

    # Without a declared type feedparser flags every document as malformed; XML is what a feed is.
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    try:
        parsed = feedparser.parse(content, response_headers=headers, sanitize_html=False)
    except Exception as exc:  # feedparser should not raise, but a hostile document must not crash a poll
        raise FeedParseError(f"feed parser failed: {type(exc).__name__}: {exc}") from None
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception")
        raise FeedParseError(f"not a feed: {reason or 'no RSS/Atom/JSON Feed document found'}")
    bozo = str(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    feed = parsed.feed
    return ParsedFeed(
        title=_clean(feed.get("title")),
        site_url=feed.get("link"),
        entries=[_entry(e) for e in parsed.entries],
        bozo=bozo,
        stated_interval=stated_interval(feed),
    )


SY_PERIODS = {"hourly": 3600, "daily": 86400, "weekly": 7 * 86400, "monthly": 30 * 86400, "yearly": 365 * 86400}


def stated_interval(feed: Any) -> float | None:
    """The longer of the RSS ``<ttl>`` (minutes) and the syndication module's ``updatePeriod`` divided by its
    ``updateFrequency``; None when the feed states neither (or nonsense)."""
    stated = []
    ttl = str(feed.get("ttl", "")).strip()
    if ttl.isdigit() and int(ttl) > 0:
        stated.append(int(ttl) * 60.0)
    period = SY_PERIODS.get(str(feed.get("sy_updateperiod", "")).strip().lower())
    frequency = str(feed.get("sy_updatefrequency", "1")).strip()
    if period and frequency.isdigit() and int(frequency) > 0:
        stated.append(period / int(frequency))
    return max(stated, default=None)


def _entry(entry: Any) -> FeedEntry:
    contents = entry.get("content") or []
    body = max((c.get("value", "") for c in contents), key=len, default="")
    summary = entry.get("summary", "")
    markup = body if len(body) >= len(summary) else summary
    authors = tuple(a["name"] for a in entry.get("authors", []) if a.get("name"))
    if not authors and entry.get("author"):
        authors = (entry["author"],)
    parsed_time = entry.get("published_parsed") or entry.get("updated_parsed")
    link = entry.get("link") or _permalink_guid(entry)
    return FeedEntry(
        guid=_clean(entry.get("id")),
        link=http_url(link),
        title=_clean(html_to_text(entry.get("title", ""))),
        text=html_to_text(markup),
        published=datetime.fromtimestamp(calendar.timegm(parsed_time), UTC) if parsed_time else None,
        authors=authors,
    )


def _permalink_guid(entry: Any) -> str | None:
    guid = entry.get("id") or ""
    return guid if guid.startswith(("http://", "https://")) else None


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _looks_like_json(content: bytes, content_type: str | None) -> bool:
    if content_type and "json" in content_type.lower():
        return True
    return content.lstrip()[:1] == b"{"


def _parse_json_feed(content: bytes, url: str) -> ParsedFeed:
    """JSON Feed 1.0/1.1 (https://jsonfeed.org), which feedparser does not read."""
    try:
        doc = json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedParseError(f"invalid JSON feed: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise FeedParseError("not a feed: JSON document without an 'items' list")
    entries = []
    for item in doc["items"]:
        if not isinstance(item, dict):
            continue
        link = item.get("url") or item.get("external_url")
        authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
        entries.append(
            FeedEntry(
                guid=_clean(str(item["id"])) if item.get("id") is not None else None,
                link=http_url(urljoin(url, link)) if isinstance(link, str) else None,
                title=_clean(item.get("title")),
                text=html_to_text(item.get("content_html") or "") or (item.get("content_text") or "").strip()
                or (item.get("summary") or "").strip(),
                published=_iso_datetime(item.get("date_published") or item.get("date_modified")),
                authors=tuple(a["name"] for a in authors if isinstance(a, dict) and a.get("name")),
            )
        )
    return ParsedFeed(title=_clean(doc.get("title")), site_url=doc.get("home_page_url"), entries=entries)


def _iso_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
