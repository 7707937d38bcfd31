"""What the ingesting process and its worker processes load, and the pool they run in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.core.config import ExtractionSettings, load_settings
from monitor.ingest.feedparse import FeedEntry
from monitor.ingest.processor import WORKER_MODULES, Candidate, Options, Processed, process, process_pool
from tests.newsworld import article_page, article_text

CONFIG = Path(__file__).parent.parent / "config" / "monitor.toml"
# Loaded by extraction, feed parsing and MinHash signatures, which run in the workers.
WORKERS_ONLY = ("trafilatura", "readability", "htmldate", "justext", "feedparser", "lxml.html", "numpy", "datasketch")


def probe(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_the_ingesting_process_loads_none_of_the_workers_modules() -> None:
    code = f"""
import sys
import monitor.service.app, monitor.ingest.pipeline, monitor.ingest.processor, monitor.store
from monitor.dedup.neardup import NearDupConfig, Signature, band_keys, best_match, similarity
sig = Signature(tuple(range(128)), 300)
band_keys(sig, NearDupConfig())
assert best_match(sig, [("a", Signature.from_bytes(sig.to_bytes()))], NearDupConfig()) == "a"
assert similarity(sig, sig) == 1.0
print(sorted(m for m in {WORKERS_ONLY!r} if m in sys.modules))
"""
    assert probe(code) == "[]"


def test_worker_modules_hold_everything_the_workers_load() -> None:
    """The forkserver imports WORKER_MODULES for the workers to share: whatever processing a page and parsing a
    feed import besides is loaded by each worker on its own."""
    code = f"""
import importlib, sys
from pathlib import Path
from monitor.core.config import load_settings
from monitor.ingest.processor import Candidate, Options
from tests.newsworld import Item, article_page, article_text, rss
options = Options.from_settings(load_settings(Path({str(CONFIG)!r}), {{}}))
feed, page = rss([Item("Story 1", "https://news.example.com/1")]), article_page("Story 1", article_text(1)).encode()
for name in {WORKER_MODULES!r}:
    importlib.import_module(name)
before = set(sys.modules)
from monitor.ingest.feedparse import parse_feed
from monitor.ingest.processor import process
entry = parse_feed(feed, "https://news.example.com/feed").entries[0]
assert process(Candidate(entry, "https://news.example.com/1", page, "text/html"), options) is not None
print(sorted({{m.split(".")[0] for m in set(sys.modules) - before}}))
"""
    assert probe(code) == "[]"


@pytest.mark.parametrize("workers", [1, 2])  # spawned / forked by a forkserver that preloads their modules
def test_a_pool_processes_entries(workers: int) -> None:
    options = Options.from_settings(load_settings(CONFIG, {}))
    entries = [FeedEntry(f"g{n}", f"https://news.example.com/{n}", f"Story {n}", "", None) for n in range(4)]
    pages = [article_page(f"Story {n}", article_text(n)).encode() for n in range(4)]
    candidates = [Candidate(e, e.link, p, "text/html") for e, p in zip(entries, pages, strict=True)]
    with process_pool(workers) as pool:
        results = list(pool.map(process, candidates, [options] * 4))
    assert all(isinstance(r, Processed) and r.source == "page" for r in results)
    assert "Story 2, paragraph 3" in results[2].text
    assert results[0].analysis.minhash is not None and results[0].id != results[1].id


def test_default_workers_leave_one_core_to_the_main_process(monkeypatch: pytest.MonkeyPatch) -> None:
    for cores, workers in ((None, 1), (1, 1), (2, 1), (8, 7)):
        monkeypatch.setattr("os.cpu_count", lambda cores=cores: cores)
        assert ExtractionSettings().worker_count() == workers
    assert ExtractionSettings(workers=3).worker_count() == 3

