"""Robustness of feed parsing on real documents: crashes, and entries found versus plain feedparser.

Usage: ``python -m monitor.evaluation.feeds PATH`` (a folder of feed documents, e.g. shared/eval/feeds).
"""

from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path
from typing import TextIO

import feedparser

from monitor.ingest.feedparse import FeedParseError, parse_feed

FEED_SUFFIXES = {".xml", ".rss", ".atom", ".rdf", ".json", ".feed"}


def feed_documents(path: Path) -> list[Path]:
    """Feed documents under ``path``; expected-output JSON files listed in a MANIFEST.tsv are skipped."""
    skip: set[str] = set()
    manifest = path / "MANIFEST.tsv"
    if manifest.is_file():
        for line in manifest.read_text(encoding="utf-8").splitlines()[1:]:
            cols = line.split("\t")
            if len(cols) > 1 and cols[1] == "expected-output":
                skip.add(cols[0])
    return sorted(
        p for p in path.rglob("*")
        if p.is_file() and p.suffix.lower() in FEED_SUFFIXES and str(p.relative_to(path)) not in skip
    )


def run(path: Path, out: TextIO) -> int:
    docs = feed_documents(path)
    crashes: list[str] = []
    unreadable: list[str] = []
    fewer: list[str] = []
    ours_total = theirs_total = 0
    ours_time = theirs_time = 0.0
    for doc in docs:
        content = doc.read_bytes()
        start = time.perf_counter()
        theirs = len(feedparser.parse(content).entries)
        theirs_time += time.perf_counter() - start
        start = time.perf_counter()
        try:
            ours = len(parse_feed(content, f"http://feeds.invalid/{doc.relative_to(path)}").entries)
        except FeedParseError as exc:
            ours = 0
            unreadable.append(f"{doc.relative_to(path)}: {exc}")
        except Exception:
            ours = 0
            crashes.append(f"{doc.relative_to(path)}:\n{traceback.format_exc()}")
        ours_time += time.perf_counter() - start
        ours_total += ours
        theirs_total += theirs
        if ours < theirs:
            fewer.append(f"{doc.relative_to(path)}: {ours} < {theirs}")
    print(f"documents: {len(docs)}", file=out)
    print(f"crashes: {len(crashes)}", file=out)
    print(f"unreadable (clear error recorded): {len(unreadable)}", file=out)
    print(f"entries: monitor {ours_total}, plain feedparser {theirs_total}", file=out)
    print(f"documents where monitor found fewer entries: {len(fewer)}", file=out)
    print(f"time: monitor {ours_time:.2f}s, feedparser {theirs_time:.2f}s", file=out)
    for line in crashes + fewer:
        print("  " + line, file=out)
    for line in unreadable:
        print("  unreadable: " + line, file=out)
    return 1 if crashes or fewer else 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]), sys.stdout))
