"""Processing of one new entry: page extraction (or the feed's own content), content hash, tags and
statements, near-duplicate signature.

Runs in worker processes (CPU-bound); everything here is picklable and free of I/O (the tagging rules are
read once per process).

The main process imports this module for its types and the pool, not for the work: the extractor
(trafilatura, lxml, readability), the feed parser and numpy are imported by the functions that use them, in
the workers. With two workers or more, their forkserver imports those modules (``WORKER_MODULES``) once,
before it forks them, and they share its pages instead of each loading a copy of its own.
"""

from __future__ import annotations

import gc
import os
import select
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.dedup.exact import canonical_url, content_hash
from monitor.dedup.neardup import NearDupConfig, signature
from monitor.tagging import Statement, Tagger

if TYPE_CHECKING:
    from monitor.core.config import Settings
    from monitor.ingest.feedparse import FeedEntry
    from monitor.store.models import Article, ArticleTag
    from monitor.store.models import Statement as StatementRow

# What the workers run imports these (the functions below, monitor.ingest.feedparse.parse_feed and its XML parser,
# neardup's signatures); tests/test_workers.py checks that nothing else is loaded.
WORKER_MODULES = (
    "monitor.ingest.processor", "monitor.ingest.extraction", "monitor.ingest.feedparse", "feedparser",
    "xml.sax.expatreader", "numpy",
)


@dataclass(frozen=True)
class Options:
    """What the workers need from the settings (picklable)."""

    min_text_chars: int
    tags_file: Path
    officials_file: Path
    model_file: Path | None
    neardup: NearDupConfig

    @classmethod
    def from_settings(cls, settings: Settings) -> Options:
        t = settings.tagging
        return cls(
            min_text_chars=settings.extraction.min_text_chars,
            tags_file=settings.tagging_file("tags_file") or Path(t.tags_file),
            officials_file=settings.tagging_file("officials_file") or Path(t.officials_file),
            model_file=settings.tagging_file("model_file"),
            neardup=NearDupConfig.of(settings.stories),
        )


@dataclass(frozen=True)
class TagScore:
    tag: str
    score: float
    evidence: list[dict[str, object]]


@dataclass(frozen=True)
class Analysis:
    """Tags given (with evidence), UK defence statements and the near-duplicate signature of a text."""

    tags: list[TagScore]
    statements: tuple[Statement, ...]
    minhash: bytes | None


@lru_cache(maxsize=4)
def tagger(options: Options) -> Tagger:
    return Tagger.from_files(options.tags_file, options.officials_file, options.model_file)


def analysis_rows(article: Article, analysis: Analysis) -> tuple[list[ArticleTag], list[StatementRow]]:
    """The tag and statement rows of an article's analysis (in the process that stores them)."""
    from monitor.store.models import ArticleTag
    from monitor.store.models import Statement as StatementRow

    tags = [ArticleTag(article_id=article.id, tag=t.tag, score=t.score, evidence=t.evidence) for t in analysis.tags]
    statements = [
        StatementRow(
            article_id=article.id, speaker=st.speaker, role=st.role, text=st.text, field=st.field,
            start=st.start, end=st.end, kind=st.kind,
        )
        for st in analysis.statements
    ]
    return tags, statements


def analyse(title: str | None, text: str, published: datetime | None, options: Options) -> Analysis:
    result = tagger(options).tag(title, text, published)
    # The statements behind a tag are in its evidence already (kind "statement") and stored as rows of their own.
    given = [TagScore(d.tag, d.score, [e.as_dict() for e in d.evidence]) for d in result.decisions if d.given]
    sig = signature(text, options.neardup)
    return Analysis(given, result.statements, sig.to_bytes() if sig else None)


@dataclass(frozen=True)
class Candidate:
    """A feed entry not seen before, with its page when it could be fetched."""

    entry: FeedEntry
    page_url: str | None = None
    html: bytes | None = None
    content_type: str | None = None
    withheld: str | None = None  # why the page was not fetched on purpose (robots.txt): the stored method


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
    analysis: Analysis


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


def process(candidate: Candidate, options: Options) -> Processed | None:
    """Extract the article from its page, falling back to the entry's content; None when no text at all."""
    from monitor.ingest.extraction import extract_article

    entry = candidate.entry
    extracted = None
    if candidate.html:
        extracted = extract_article(
            _decode(candidate.html, candidate.content_type), candidate.page_url, find_author=not entry.authors
        )
    use_page = extracted is not None and (
        len(extracted.text) >= options.min_text_chars or len(extracted.text) >= len(entry.text)
    )
    if extracted is not None and use_page:
        text, source, method = extracted.text, "page", extracted.method
    else:
        text, source, method = entry.text or entry.title or "", "feed", candidate.withheld
    if not text.strip():
        return None
    page_canonical = extracted.canonical_url if extracted else None
    title = entry.title or (extracted.title if extracted else None)
    published = entry.published or (extracted.published if extracted else None)
    return Processed(
        id=content_hash(text),
        text=text,
        source=source,
        title=title,
        authors=list(entry.authors) or (extracted.authors if extracted else []),
        published=published,
        language=extracted.language if extracted else None,
        site_name=extracted.site_name if extracted else None,
        canonical_url=canonical_url(page_canonical) if page_canonical else None,
        extraction_method=method,
        analysis=analyse(title, text, published, options),
    )


def _exit_with(parent: int) -> None:
    """Wait until process ``parent`` has ended, then end this one."""
    try:
        handle = os.pidfd_open(parent)  # readable once the process has exited (Linux ≥ 5.3)
    except (AttributeError, OSError):
        while True:  # elsewhere: look once a second
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                break
            time.sleep(1)
    else:
        select.select([handle], [], [])
    os._exit(1)


def _start_worker(parent: int) -> None:
    """Worker initializer. A worker outlives a killed parent otherwise (it waits for work forever, and keeps
    the resource tracker alive), so it ends itself as soon as the parent is gone. What it inherited from a
    forkserver is frozen: the garbage collector then never writes to those objects, and their pages stay
    shared."""
    gc.freeze()
    threading.Thread(target=_exit_with, args=(parent,), name="monitor-parent-watch", daemon=True).start()


def process_pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes for ``process`` and feed parsing, started without forking this process (its event
    loop's threads must not be forked). Each worker ends when the process that made the pool dies, however
    it dies.

    Two workers or more come from a forkserver that loads ``WORKER_MODULES`` for all of them (if this process
    has not started it yet), so they share those pages. A single worker shares them with nobody: the pages it
    writes to (every object it uses gains a reference) would be copied and the forkserver's originals kept,
    so it is spawned, a fresh interpreter that loads what it needs (~12 MB less than a forkserver and a
    worker; the forkserver alone is ~6 MB)."""
    if workers == 1:
        context = get_context("spawn")
    else:
        context = get_context("forkserver")
        context.set_forkserver_preload(list(WORKER_MODULES))
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_start_worker, initargs=(os.getpid(),)
    )
