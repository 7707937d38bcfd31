"""Processing of one new entry: page extraction (or the feed's own content), content hash.

Runs in worker processes (CPU-bound); everything here is picklable and free of I/O.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from multiprocessing import get_context

from monitor.dedup import canonical_url, content_hash
from monitor.extraction import extract_article
from monitor.feedparse import FeedEntry


@dataclass(frozen=True)
class Candidate:
    """A feed entry not seen before, with its page when it could be fetched."""

    entry: FeedEntry
    page_url: str | None = None
    html: bytes | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class Processed:
    """An article ready to store."""

    id: str  # content hash of the text
    text: str
    source: str  # "page" or "feed"
    title: str | None
    authors: list[str]
    published: datetime | None
    language: str | None
    site_name: str | None
    canonical_url: str | None
    extraction_method: str | None


def _decode(html: bytes, content_type: str | None) -> str | bytes:
    """Decode with the charset the server declared; without one, leave detection to the extractor."""
    if not content_type:
        return html
    message = Message()
    message["content-type"] = content_type
    charset = message.get_content_charset()
    if not charset:
        return html
    try:
        return html.decode(charset, errors="replace")
    except LookupError:
        return html


def process(candidate: Candidate, min_text_chars: int) -> Processed | None:
    """Extract the article from its page, falling back to the entry's content; None when no text at all."""
    entry = candidate.entry
    extracted = None
    if candidate.html:
        extracted = extract_article(_decode(candidate.html, candidate.content_type), candidate.page_url)
    use_page = extracted is not None and (
        len(extracted.text) >= min_text_chars or len(extracted.text) >= len(entry.text)
    )
    if extracted is not None and use_page:
        text, source, method = extracted.text, "page", extracted.method
    else:
        text, source, method = entry.text or entry.title or "", "feed", None
    if not text.strip():
        return None
    page_canonical = extracted.canonical_url if extracted else None
    return Processed(
        id=content_hash(text),
        text=text,
        source=source,
        title=entry.title or (extracted.title if extracted else None),
        authors=list(entry.authors) or (extracted.authors if extracted else []),
        published=entry.published or (extracted.published if extracted else None),
        language=extracted.language if extracted else None,
        site_name=extracted.site_name if extracted else None,
        canonical_url=canonical_url(page_canonical) if page_canonical else None,
        extraction_method=method,
    )


def process_pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes for ``process``; forkserver, so the event loop's threads are never forked."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("forkserver"))
