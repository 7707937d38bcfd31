"""Article extraction: main text and metadata from a fetched HTML page.

One ``trafilatura.bare_extraction`` call (fast, precision-oriented, no comments) yields the text, and
trafilatura's metadata functions the fields the monitor stores (see ``_metadata``). The text is checked
cheaply and, only when it looks wrong, other extractors are tried:

* text shorter than ``SHORT_TEXT_CHARS`` → trafilatura with its own fallbacks, then in balanced mode
  (fast precision mode sometimes keeps only a caption, a teaser or a reprint notice);
* text covering less than ``PARAGRAPH_COVERAGE`` of the page's ``<p>`` text that could be article text (not in
  comments, asides, footers, related-links panels …) → readability-lxml, kept if it
  is much longer and contains most of trafilatura's text (the article body is split over several containers
  and trafilatura kept only the first one).
"""

from __future__ import annotations

import codecs
import logging
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import lxml.html
import trafilatura
from htmldate import find_date
from lxml.html import HtmlElement
from readability import Document as ReadabilityDocument
from trafilatura.metadata import (
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.settings import Document
from trafilatura.utils import decode_file, load_html

LOGGER = logging.getLogger(__name__)

MAX_HTML_CHARS = 10_000_000  # larger pages are rejected unparsed
MAX_ELEMENTS = 30_000  # pages with more elements are rejected: extraction time grows faster than their size
MIN_TEXT_CHARS = 100  # shorter extractions are not a usable article
SHORT_TEXT_CHARS = 500  # below this, the fast precision-mode result is double-checked by _SHORT_TEXT_FALLBACKS
# (method, trafilatura options, how many times longer its text must be to replace the current one)
_SHORT_TEXT_FALLBACKS: tuple[tuple[str, dict[str, bool], float], ...] = (
    ("trafilatura-fallback", {"favor_precision": True}, 1.0),  # with trafilatura's own readability/jusText
    ("trafilatura-balanced", {}, 2.0),  # precision mode sometimes keeps only a teaser or a reprint notice
)
PARAGRAPH_COVERAGE = 0.5  # extracted text / page <p> text below this triggers readability
READABILITY_GROWTH = 1.5  # readability must be this many times longer than trafilatura …
READABILITY_OVERLAP = 0.8  # … and contain this share of trafilatura's 4-token shingles

# dates from markup and metadata; the slow search through the page text only when these give none
_DATE_PARAMS = {"original_date": True, "extensive_search": False, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}
_EXTENSIVE_DATE_PARAMS = {**_DATE_PARAMS, "extensive_search": True}
_CHARSET_RE = re.compile(rb"""(?:charset|encoding)\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
# WHATWG: these labels mean windows-1252 in HTML
_WHATWG_ALIASES = {"iso8859-1": "cp1252", "ascii": "cp1252"}  # codecs' names
_TOKEN_RE = re.compile(r"\w+")
_ARTICLE_TAGS = ("article", "h1", "main")  # a non-article element holding one of these is a layout wrapper
# <p> text inside these (or in <body>-level layout) is not counted as possible article text by the coverage check
_NON_ARTICLE_TAGS = frozenset({"aside", "footer", "form", "header", "nav"})
_NON_ARTICLE_RE = re.compile(r"comment|related|sidebar|footer|newsletter|promo", re.IGNORECASE)
_LAYOUT_TAGS = frozenset({"body", "html"})
_BLOCK_TAGS = (
    *("address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "figure"),
    *("footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "ol", "p", "pre"),
    *("section", "table", "tr", "ul"),
)


@dataclass(frozen=True)
class Extracted:
    """Main text and metadata of an article page."""

    text: str
    title: str | None
    authors: list[str]
    published: datetime | None
    language: str | None
    site_name: str | None
    canonical_url: str | None
    method: str


def extract_article(html: str | bytes, url: str | None = None, *, find_author: bool = True) -> Extracted | None:
    """Extract the article text and metadata from a page; None when there is no usable article text.

    ``find_author=False`` skips searching the page body for a byline when its metadata names none (the
    feed gave the authors already): that search costs about as much as the text extraction.
    """
    try:
        return _extract(html, url, find_author)
    except Exception:  # the contract: malformed input never raises
        LOGGER.warning("extraction failed for %s", url, exc_info=True)
        return None


def _extract(html: str | bytes, url: str | None, find_author: bool) -> Extracted | None:
    if len(html) > MAX_HTML_CHARS:
        LOGGER.info("page too large to extract (%d): %s", len(html), url)
        return None
    tree = load_html(_decode(html) if isinstance(html, bytes) else html)
    if tree is None:
        return None
    if tree.xpath("count(//*)") > MAX_ELEMENTS:
        LOGGER.info("page has too many elements to extract: %s", url)
        return None
    meta = _metadata(tree, url, find_author)
    doc = trafilatura.bare_extraction(  # works on a copy of ``tree``
        tree, url=url, fast=True, favor_precision=True, include_comments=False, with_metadata=False
    )
    title = meta.title
    date = meta.date or find_date(tree, url=url, **_EXTENSIVE_DATE_PARAMS)
    language, canonical_url = _language(tree), _canonical(tree, url)
    text, method = _checked_text(tree, url, (doc.text or "") if doc else "")  # last: may alter ``tree``
    text = _drop_title_line(text, title)
    if len(text) < MIN_TEXT_CHARS:
        return None
    return Extracted(
        text=text,
        title=title,
        authors=_authors(meta.author),
        published=_parse_date(date),
        language=language,
        site_name=meta.sitename,
        canonical_url=canonical_url,
        method=method,
    )


def _metadata(tree: HtmlElement, url: str | None, find_author: bool) -> Document:
    """Title, author, URL, date and site name, as ``trafilatura.extract_metadata`` finds them, without the
    categories, tags and licence (never stored; on link-heavy pages they cost more than the text extraction)
    and, unless ``find_author``, without the search of the page body for a byline."""
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:  # as trafilatura: a single word is not a byline
        meta.author = None
    try:
        meta = extract_meta_json(tree, meta)
    except Exception:  # as trafilatura: its JSON-LD reader has bugs, the page still has the rest
        LOGGER.debug("JSON-LD metadata not read: %s", url, exc_info=True)
    meta.title = meta.title or extract_title(tree)
    if not meta.author and find_author:
        meta.author = extract_author(tree)
    meta.url = meta.url or extract_url(tree, url)
    meta.date = find_date(tree, url=meta.url, **_DATE_PARAMS)
    meta.sitename = (meta.sitename or extract_sitename(tree) or "").lstrip("@") or None
    if meta.sitename and "." not in meta.sitename and not meta.sitename[0].isupper():
        meta.sitename = meta.sitename.title()
    elif not meta.sitename and meta.url:
        meta.sitename = (urlsplit(meta.url).hostname or "").removeprefix("www.") or None
    meta.clean_and_trim()
    return meta


def _checked_text(tree: HtmlElement, url: str | None, text: str) -> tuple[str, str]:
    """The fast precision-mode text, or another extractor's when it looks wrong; with the method's name."""
    method = "trafilatura"
    if len(text) < SHORT_TEXT_CHARS:
        for name, options, growth in _SHORT_TEXT_FALLBACKS:
            other = trafilatura.extract(tree, url=url, include_comments=False, **options) or ""
            if len(other) > growth * len(text):
                text, method = other, name
            if len(text) >= SHORT_TEXT_CHARS:
                break
    if len(text) < PARAGRAPH_COVERAGE * _paragraph_chars(tree):
        other = _readability_text(tree, url)
        if len(other) > READABILITY_GROWTH * len(text) and _overlap(text, other) >= READABILITY_OVERLAP:
            text, method = other, "readability"
    return text, method


def _decode(raw: bytes) -> str:
    """Decode page bytes: BOM, then valid UTF-8, then the declared charset, then detection."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw.decode("utf-8-sig", errors="replace")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16", errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    match = _CHARSET_RE.search(raw[:4096])
    if match:
        label = match.group(1).decode("ascii").lower()
        try:
            return raw.decode(_WHATWG_ALIASES.get(codecs.lookup(label).name, label))
        except (LookupError, UnicodeDecodeError):
            LOGGER.debug("declared charset %r does not fit", label)
    return decode_file(raw)


def _drop_title_line(text: str, title: str | None) -> str:
    """Text without a first line that repeats the title (kept in its own field)."""
    first, _, rest = text.partition("\n")
    if title and " ".join(first.split()).casefold() == " ".join(title.split()).casefold():
        return rest.lstrip("\n")
    return text


def _paragraph_chars(tree: HtmlElement) -> int:
    """Total text length of the page's ``<p>`` elements that could be article text.

    Paragraphs in comments, asides, footers, navigation, headers, forms and related-links or promo panels
    (by tag, class or id) are left out: they are not the article, and pages are full of them. One walk down
    the tree that skips such panels whole.
    """
    total = 0
    pending = [tree]
    while pending:
        node = pending.pop()
        if node.tag == "p":
            total += len(node.text_content().strip())
        else:
            pending.extend(c for c in node if isinstance(c.tag, str) and not _non_article(c))
    return total


def _non_article(element: HtmlElement) -> bool:
    """Whether ``element`` is non-article markup (comments, aside …) below ``<body>``.

    A match holding an ``<article>``, ``<main>`` or ``<h1>`` is a layout wrapper (ASP.NET's page-wide
    ``<form>``), not a panel; ``<body>`` classes ("has-sidebar") say nothing about one paragraph.
    """
    return (
        element.tag not in _LAYOUT_TAGS
        and (
            element.tag in _NON_ARTICLE_TAGS
            or _NON_ARTICLE_RE.search(f"{element.get('class', '')} {element.get('id', '')}") is not None
        )
        and next(element.iterdescendants(*_ARTICLE_TAGS), None) is None
    )


def _readability_text(tree: HtmlElement, url: str | None) -> str:
    """Main text by readability-lxml (drops hidden elements from ``tree``); "" when it finds none."""
    summary = ReadabilityDocument(tree, url=url).summary(html_partial=True)
    root = lxml.html.fragment_fromstring(summary, create_parent="div")
    for element in root.iter(*_BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
    lines = (" ".join(line.split()) for line in root.text_content().split("\n"))
    return "\n".join(line for line in lines if line)


def _shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN_RE.findall(text.lower())
    return Counter(tuple(tokens[i : i + 4]) for i in range(len(tokens) - 3))


def _overlap(part: str, whole: str) -> float:
    """Share of ``part``'s 4-token shingles found in ``whole``."""
    part_shingles = _shingles(part)
    total = sum(part_shingles.values())
    return sum((part_shingles & _shingles(whole)).values()) / total if total else 1.0


def _authors(author: str | None) -> list[str]:
    return [name.strip() for name in author.split(";") if name.strip()] if author else []


def _parse_date(value: str | None) -> datetime | None:
    """htmldate's ``%Y-%m-%dT%H:%M:%S%z`` output → aware datetime (UTC when the page gives no zone)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _language(tree: HtmlElement) -> str | None:
    """ISO 639-1 code from ``<html lang>``, Content-Language or og:locale."""
    candidates = [tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang")]
    candidates += tree.xpath(
        "//meta[translate(@http-equiv, 'CONTENT-LANGUAGE', 'content-language')='content-language']/@content"
        "|//meta[@property='og:locale' or @name='language']/@content"
    )
    for candidate in candidates:
        code = re.split(r"[-_,;\s]", (candidate or "").strip(), maxsplit=1)[0].lower()
        if len(code) == 2 and code.isascii() and code.isalpha():
            return code
    return None


def _canonical(tree: HtmlElement, url: str | None) -> str | None:
    """Absolute canonical URL from ``<link rel=canonical>`` or og:url."""
    hrefs = [link.get("href") for link in tree.iter("link") if "canonical" in (link.get("rel") or "").lower().split()]
    hrefs += tree.xpath("//meta[@property='og:url' or @name='og:url']/@content")
    for href in hrefs:
        absolute = urljoin(url or "", (href or "").strip())
        parts = urlsplit(absolute)
        if parts.scheme in ("http", "https") and parts.netloc:
            return absolute
    return None
