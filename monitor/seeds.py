"""The seed corpus: folders of ``NNN_<16 hex>.txt`` files, imported with their ids and exported alike."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from monitor.dedup import content_hash
from monitor.errors import MonitorError
from monitor.models import Article, utcnow
from monitor.processor import Options, analyse, analysis_rows
from monitor.storage import Store

SEED_NAME = re.compile(r"^(\d+)_([0-9a-f]{16})\.txt$")
PACKAGED_SEEDS = "seeds"
TITLE_MAX = 200


@dataclass(frozen=True)
class SeedFile:
    number: int
    id: str
    path: Path


def packaged_seed_dir() -> Path:
    return Path(str(resources.files("monitor") / PACKAGED_SEEDS))


def corpus_files(folder: Path) -> list[SeedFile]:
    """The ``NNN_<id>.txt`` files of a folder, in NNN order."""
    if not folder.is_dir():
        raise MonitorError(f"not a folder: {folder}")
    files = []
    for path in folder.iterdir():
        match = SEED_NAME.match(path.name)
        if match and path.is_file():
            files.append(SeedFile(int(match.group(1)), match.group(2), path))
    return sorted(files, key=lambda f: (f.number, f.id))


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


def import_corpus(store: Store, folder: Path, options: Options) -> tuple[int, int]:
    """Import a corpus folder idempotently, tagged; returns (imported, already present)."""
    imported = present = 0
    known = store.article_ids()
    for seed in corpus_files(folder):
        if seed.id in known:
            present += 1
            continue
        text = read_text(seed.path)
        title = derive_title(text)
        analysis = analyse(title, text, None, options)
        article = Article(
            id=seed.id, content_hash=content_hash(text), text=text, title=title, source="seed",
            fetched_at=utcnow(), tags=[t.tag for t in analysis.tags], minhash=analysis.minhash,
        )
        if store.save_article(article, None, *analysis_rows(article, analysis)).created:
            imported += 1
        else:
            present += 1
    return imported, present


def export_corpus(store: Store, folder: Path) -> int:
    """Write every article as ``NNN_<id>.txt`` (storage order) plus ``index.jsonl``; returns the count.
    Raises MonitorError when the folder cannot be written."""
    count = 0
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "index.jsonl").open("w", encoding="utf-8") as index:
            for number, article in enumerate(store.iter_articles_in_storage_order()):
                name = f"{number:03d}_{article.id}.txt"
                with (folder / name).open("w", encoding="utf-8", newline="") as handle:
                    handle.write(article.text)
                meta = article.model_dump(mode="json", exclude={"text", "minhash"})
                index.write(json.dumps({"file": name, **meta}, ensure_ascii=False) + "\n")
                count += 1
    except OSError as exc:
        raise MonitorError(f"cannot export to {folder}: {exc.strerror or exc} ({exc.filename or folder})") from None
    return count
