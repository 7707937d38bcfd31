"""OPML import and export of the feed list."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from lxml import etree

from monitor.errors import MonitorError


@dataclass(frozen=True)
class OpmlFeed:
    url: str
    title: str | None


def read_opml(path: Path) -> list[OpmlFeed]:
    """Every outline with an ``xmlUrl``, at any depth."""
    try:
        tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
    except (OSError, etree.XMLSyntaxError) as exc:
        raise MonitorError(f"cannot read OPML file {path}: {exc}") from None
    feeds = []
    for outline in tree.iter("outline"):
        url = (outline.get("xmlUrl") or "").strip()
        if url:
            feeds.append(OpmlFeed(url, outline.get("title") or outline.get("text")))
    return feeds


def write_opml(feeds: list[OpmlFeed], title: str = "monitor feeds") -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">', f"  <head><title>{title}</title></head>",
             "  <body>"]
    for feed in feeds:
        text = quoteattr(feed.title or feed.url)
        lines.append(f'    <outline type="rss" text={text} title={text} xmlUrl={quoteattr(feed.url)}/>')
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)
