"""OPML import and export of the feed list: folders (an outline holding outlines) and ``htmlUrl`` kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from monitor.core.errors import MonitorError


@dataclass(frozen=True)
class OpmlFeed:
    url: str
    title: str | None
    site_url: str | None = None  # htmlUrl
    folder: str | None = None  # the text of the outline it is in


@dataclass
class OpmlFile:
    feeds: list[OpmlFeed] = field(default_factory=list)
    skipped: int = 0  # outlines that are neither a feed (xmlUrl) nor a folder


def read_opml(path: Path) -> OpmlFile:
    """Every outline with an ``xmlUrl``, at any depth, with the folder it is in."""
    try:
        tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
    except (OSError, etree.XMLSyntaxError) as exc:
        raise MonitorError(f"cannot read OPML file {path}: {exc}") from None
    root = tree.getroot()
    if root.tag != "opml":
        raise MonitorError(
            f"{path} is not an OPML file (its root element is <{root.tag}>); "
            "a feed is added by its URL: `monitor feeds add URL`"
        )
    result = OpmlFile()
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or "").strip()
        if not url:
            result.skipped += not len(outline)
            continue
        parent = outline.getparent()
        folder = (parent.get("title") or parent.get("text")) if parent is not None and parent.tag == "outline" else None
        result.feeds.append(OpmlFeed(url, outline.get("title") or outline.get("text"),
                                     (outline.get("htmlUrl") or "").strip() or None, folder or None))
    return result


def _outline(feed: OpmlFeed, indent: str) -> str:
    text = quoteattr(feed.title or feed.url)
    html = f" htmlUrl={quoteattr(feed.site_url)}" if feed.site_url else ""
    return f'{indent}<outline type="rss" text={text} title={text} xmlUrl={quoteattr(feed.url)}{html}/>'


def write_opml(feeds: list[OpmlFeed], title: str = "monitor feeds") -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">',
             f"  <head><title>{escape(title)}</title></head>", "  <body>"]
    lines += [_outline(f, "    ") for f in feeds if not f.folder]
    foldered = sorted((f for f in feeds if f.folder), key=lambda f: f.folder or "")
    for folder, members in groupby(foldered, key=lambda f: f.folder or ""):
        name = quoteattr(folder)
        lines.append(f"    <outline text={name} title={name}>")
        lines += [_outline(f, "      ") for f in members]
        lines.append("    </outline>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)
