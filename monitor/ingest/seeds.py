"""The seed corpus: folders of ``NNN_<16 hex>.txt`` files, imported with their ids and exported alike."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ValidationError

from monitor.core.errors import MonitorError
from monitor.core.progress import progress
from monitor.dedup.exact import canonical_url, content_hash
from monitor.store import Sighting, Store
from monitor.store.models import Article, utcnow

if TYPE_CHECKING:
    from monitor.ingest.processor import Options

SEED_NAME = re.compile(r"^(\d+)_([0-9a-f]{16})\.txt$")
PACKAGED_SEEDS = "seeds"
TITLE_MAX = 200
INDEX = "index.jsonl"


@dataclass(frozen=True)
class SeedFile:
    number: int
    id: str
    path: Path


@dataclass
class ImportReport:
    imported: int = 0
    present: int = 0
    skipped: list[str] = field(default_factory=list)  # files in the folder not named NNN_<16 hex>.txt
    feeds_added: int = 0


def packaged_seed_dir() -> Path:
    return Path(str(resources.files("monitor") / PACKAGED_SEEDS))


def corpus_files(folder: Path) -> tuple[list[SeedFile], list[str]]:
    """The ``NNN_<id>.txt`` files of a folder in NNN order, and the names of the other files (``index.jsonl``
    aside)."""
    if not folder.is_dir():
        raise MonitorError(f"not a folder: {folder}")
    files, skipped = [], []
    for path in folder.iterdir():
        match = SEED_NAME.match(path.name)
        if match and path.is_file():
            files.append(SeedFile(int(match.group(1)), match.group(2), path))
        elif path.name != INDEX:
            skipped.append(path.name)
    return sorted(files, key=lambda f: (f.number, f.id)), sorted(skipped)


def read_text(path: Path) -> str:
    with path.open(encoding="utf-8", newline="") as handle:
        return handle.read()


def derive_title(text: str) -> str | None:
    """The first line when it reads as a headline: short, set apart by a blank line, not a sentence."""
    lines = text.lstrip("\ufeff").split("\n")
    first = lines[0].strip()
    followed_by_blank = len(lines) > 1 and not lines[1].strip()
    if not first or not followed_by_blank or len(first) > TITLE_MAX:
        return None
    if first.endswith((".", ":", ";", ",")) or "[[" in first:
        return None
    return first


def fallback_title(text: str, limit: int = 100) -> str | None:
    """A readable title for a file without a headline: its first sentence of prose (lines of page debris such
    as ``[[title]]`` placeholders skipped), cut at a word boundary."""
    for line in text.lstrip("\ufeff").split("\n"):
        line = " ".join(line.split())
        if len(line) < 20 or "[[" in line:
            continue
        sentence = re.split(r"(?<=[.!?])\s", line, maxsplit=1)[0]
        if len(sentence) <= limit:
            return sentence
        return sentence[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"
    return None


_DATE_LINE = re.compile(r"(?<![\w-])date (\d{4})-(\d{2})(?:-(\d{2}))?(?![\w-])")


def derive_date(text: str) -> datetime | None:
    """The date a file's opening lines carry (``date 2022-10`` or ``date 2022-10-05``, as some pages print it): a
    month alone dates the article to the month's first day. None when it carries none (or an impossible one)."""
    match = _DATE_LINE.search("\n".join(text.lstrip("\ufeff").split("\n")[:3]))
    if match is None:
        return None
    year, month, day = int(match.group(1)), int(match.group(2)), int(match.group(3) or 1)
    try:
        return datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        return None


class IndexEntry(BaseModel):
    """One line of an export's ``index.jsonl``: the metadata beside the text (unknown keys are ignored)."""

    file: str
    title: str | None = None
    url: str | None = None
    canonical_url: str | None = None
    guid: str | None = None
    feed: str | None = None
    published: datetime | None = None
    fetched_at: datetime | None = None
    source: str = "seed"
    site_name: str | None = None
    language: str | None = None
    authors: list[str] = []
    extraction_method: str | None = None


def read_index(folder: Path) -> dict[str, IndexEntry]:
    """The export index of a folder by file name (empty when there is none)."""
    path = folder / INDEX
    if not path.is_file():
        return {}
    entries = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                entry = IndexEntry.model_validate_json(line)
            except ValidationError as exc:
                raise MonitorError(f"{path}:{number}: not an index entry: {exc.errors()[0]['msg']}") from None
            entries[entry.file] = entry
    return entries


def _aware(when: datetime | None) -> datetime | None:
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


def import_corpus(store: Store, folder: Path, options: Options) -> ImportReport:
    """Import a corpus folder idempotently, tagged, with the metadata of its ``index.jsonl`` when it has one
    (an export: title, URLs, dates, feed, source); the feed of an article is added when missing."""
    from monitor.ingest.processor import analyse, analysis_rows  # the tagger: not for `monitor export`

    files, skipped = corpus_files(folder)
    index = read_index(folder)
    report = ImportReport(skipped=skipped)
    known = store.article_ids()
    for seed in progress(files, "articles", len(files)):
        if seed.id in known:
            report.present += 1
            continue
        text = read_text(seed.path)
        meta = index.get(seed.path.name)
        if meta is None:  # a bare text: what the file itself says of its title and date
            meta = IndexEntry(file=seed.path.name, title=derive_title(text) or fallback_title(text),
                              published=derive_date(text))
        feed_id = None
        if meta.feed:
            feed, created = store.add_feed(meta.feed)
            feed_id, report.feeds_added = feed.id, report.feeds_added + created
        published = _aware(meta.published)
        analysis = analyse(meta.title, text, published, options)
        article = Article(
            id=seed.id, content_hash=content_hash(text), text=text, title=meta.title, source=meta.source,
            url=meta.url, canonical_url=meta.canonical_url, guid=meta.guid, feed_id=feed_id, published=published,
            site_name=meta.site_name, language=meta.language, authors=meta.authors,
            extraction_method=meta.extraction_method, fetched_at=_aware(meta.fetched_at) or utcnow(),
            tags=[t.tag for t in analysis.tags], minhash=analysis.minhash,
        )
        sighting = Sighting(feed_id, meta.url, canonical_url(meta.url), meta.guid) if meta.url else None
        if store.save_article(article, sighting, *analysis_rows(article, analysis)).created:
            report.imported += 1
        else:
            report.present += 1
    return report


def _clear_earlier_export(folder: Path) -> None:
    """Make ``folder`` ready for an export: created when missing; the files of an earlier export removed (they
    would be imported again with the new ones); anything else in it is an error."""
    if folder.exists() and not folder.is_dir():
        raise MonitorError(f"not a folder: {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    files, others = corpus_files(folder)
    if others or (files and not (folder / INDEX).is_file()):  # a corpus without an index may be hand-made
        names = others or [f.path.name for f in files]
        shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
        raise MonitorError(f"{folder} holds files that are not an earlier export ({shown}): choose an empty folder")
    for seed in files:
        seed.path.unlink()
    (folder / INDEX).unlink(missing_ok=True)


def export_corpus(store: Store, folder: Path) -> int:
    """Write every article as ``NNN_<id>.txt`` (storage order) plus ``index.jsonl`` (its metadata, the feed by
    URL); an earlier export in the folder is replaced. Returns the count."""
    feed_urls = store.feed_urls()
    total = store.article_count()
    count = 0
    try:
        _clear_earlier_export(folder)
        with (folder / INDEX).open("w", encoding="utf-8") as index:
            articles = store.iter_articles_in_storage_order()
            for number, article in enumerate(progress(articles, "articles", total)):
                name = f"{number:03d}_{article.id}.txt"
                with (folder / name).open("w", encoding="utf-8", newline="") as handle:
                    handle.write(article.text)
                meta = article.model_dump(mode="json", exclude={"text", "minhash", "feed_id"})
                meta["feed"] = feed_urls.get(article.feed_id)
                index.write(json.dumps({"file": name, **meta}, ensure_ascii=False) + "\n")
                count += 1
    except OSError as exc:
        raise MonitorError(f"cannot export to {folder}: {exc.strerror or exc}") from None
    return count
