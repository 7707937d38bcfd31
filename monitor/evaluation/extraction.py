"""Article-extraction quality and speed on real pages: ours versus plain ``trafilatura.extract``.

Usage: ``python -m monitor.evaluation.extraction PATH`` (a folder with ``html/<key>.html`` and
``ground-truth.json`` ``{key: {"articleBody", "url"}}``, e.g. shared/eval/extraction).
Metric (the article-extraction benchmark's own): lower-cased ``\\w+`` tokens, 4-token shingles with counts,
precision/recall/F1 per page, then the mean over pages.
"""

from __future__ import annotations

import logging
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import trafilatura

from monitor.core.progress import progress
from monitor.evaluation.benchmark import load_pages
from monitor.ingest.extraction import extract_article

_TOKEN_RE = re.compile(r"\w+")


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    """Counts of the lower-cased ``n``-token shingles of ``text`` (one shorter shingle for short texts)."""
    tokens = _TOKEN_RE.findall(text.lower())
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens)


def score(true: str, pred: str) -> tuple[float, float, float]:
    """Precision, recall and F1 of ``pred`` against ``true`` over shingle counts."""
    true_counts, pred_counts = shingles(true), shingles(pred)
    tp = sum((true_counts & pred_counts).values())
    fp, fn = sum(pred_counts.values()) - tp, sum(true_counts.values()) - tp
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


@dataclass
class Tally:
    """Per-page scores and total time of one extractor."""

    scores: list[tuple[float, float, float]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def mean(self, index: int) -> float:
        return sum(s[index] for s in self.scores) / len(self.scores) if self.scores else 0.0

    def ms_per_page(self) -> float:
        return 1000 * statistics.fmean(self.seconds) if self.seconds else 0.0

    def median_ms(self) -> float:
        return 1000 * statistics.median(self.seconds) if self.seconds else 0.0


def _ours(html: str, url: str) -> tuple[str, str]:
    result = extract_article(html, url)
    return (result.text, result.method) if result else ("", "none")


def _plain(html: str, url: str) -> tuple[str, str]:
    return trafilatura.extract(html, url=url) or "", "plain"


def _timed(func: Callable[[str, str], tuple[str, str]], html: str, url: str) -> tuple[str, str, float]:
    start = time.process_time()  # CPU time: other processes' load on the machine does not count
    text, method = func(html, url)
    return text, method, time.process_time() - start


def run(path: Path, out: TextIO) -> int:
    """Score both extractors on every page under ``path`` and print the comparison; 0 on success."""
    truth = load_pages(path)
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)  # its per-page warnings drown the report
    pages = {page.key: page.html() for page in truth}
    first = truth[0]
    for func in (_ours, _plain):  # warm-up: lazy imports and caches must not count against either
        func(pages[first.key], first.url)
    tallies = {"ours": Tally(), "plain": Tally()}
    methods: Counter[str] = Counter()
    worst: list[tuple[float, float, str, str]] = []
    for index, page in enumerate(progress(truth, "pages", len(truth))):
        order = [("ours", _ours), ("plain", _plain)]
        if index % 2:  # alternate the order so background load and caches hit both alike
            order.reverse()
        for name, func in order:
            text, method, seconds = _timed(func, pages[page.key], page.url)
            tallies[name].scores.append(score(page.body, text))
            tallies[name].seconds.append(seconds)
            if name == "ours":
                methods[method] += 1
        worst.append((tallies["ours"].scores[-1][2], tallies["plain"].scores[-1][2], page.key, page.url))
    print(f"{len(truth)} pages from {path}", file=out)
    print(f"{'extractor':<22}{'precision':>10}{'recall':>10}{'F1':>10}{'CPU ms/page':>12}{'median':>8}", file=out)
    for name, label in (("ours", "monitor.ingest.extraction"), ("plain", "trafilatura.extract")):
        tally = tallies[name]
        print(
            f"{label:<22}{tally.mean(0):>10.4f}{tally.mean(1):>10.4f}{tally.mean(2):>10.4f}"
            f"{tally.ms_per_page():>12.1f}{tally.median_ms():>8.1f}",
            file=out,
        )
    ours, plain = tallies["ours"], tallies["plain"]
    print(
        f"time ratio ours/plain: mean {ours.ms_per_page() / plain.ms_per_page():.2f},"
        f" median {ours.median_ms() / plain.median_ms():.2f}",
        file=out,
    )
    print("methods: " + ", ".join(f"{m} {n}" for m, n in methods.most_common()), file=out)
    print("lowest F1 (ours, plain, page):", file=out)
    for ours_f1, plain_f1, key, url in sorted(worst)[:10]:
        print(f"  {ours_f1:.3f} {plain_f1:.3f} {key[:16]} {url}", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]), sys.stdout))
