"""Story grouping (near-duplicate detection) on real pages: precision and recall of "same story".

Usage: ``python -m monitor.evaluation.stories PATH`` (a folder with ``html/<key>.html`` and
``ground-truth.json`` ``{key: {"articleBody", "url"}}``, e.g. shared/eval/extraction).

Each page gives two texts: the text our extractor pulls from its HTML (``monitor.ingest.extraction``, or plain
``trafilatura.extract`` when that does not import) and its human-written body. The two texts of a page are
the same story; texts of different pages are not (the set has pairs on the same topic and from the same site).
Over all pairs, a pair is decided "same story" as the production lookup decides it: the two signatures share
an LSH band key (the candidate step, through an inverted index like the database table) and
:func:`monitor.dedup.neardup.same_story` accepts the pair. Texts below ``min_words`` have no signature and match
nothing here. A second table checks synthetic variants of the human-written bodies: wrapped in other pages'
text (boilerplate), given a new intro, or edited throughout.
"""

from __future__ import annotations

import itertools
import logging
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import trafilatura

from monitor.core.progress import progress
from monitor.dedup.neardup import (
    NearDupConfig,
    Signature,
    band_keys,
    containment,
    same_story,
    signature,
    similarity,
    words,
)
from monitor.evaluation.benchmark import load_pages

TARGET_PRECISION = 0.99
TARGET_RECALL = 0.95
_SEED = 20240601


def _extractor() -> tuple[str, Callable[[str, str], str]]:
    """The project's extractor when it imports, else plain trafilatura."""
    try:
        from monitor.ingest.extraction import extract_article
    except ImportError:
        return "trafilatura.extract", lambda html, url: trafilatura.extract(html, url=url) or ""

    def extract(html: str, url: str) -> str:
        result = extract_article(html, url)
        return result.text if result else ""

    return "monitor.ingest.extraction", extract


def _signatures(texts: list[str], config: NearDupConfig) -> tuple[list[Signature | None], list[float]]:
    signature(texts[0], config)  # warm-up: permutation cache
    sigs, millis = [], []
    for text in texts:
        start = time.perf_counter()
        sigs.append(signature(text, config))
        millis.append(1000 * (time.perf_counter() - start))
    return sigs, millis


def _candidates(sigs: list[Signature | None], config: NearDupConfig) -> set[tuple[int, int]]:
    """Pairs of text indices sharing at least one band key."""
    index: dict[str, list[int]] = defaultdict(list)
    pairs: set[tuple[int, int]] = set()
    for i, sig in enumerate(sigs):
        if sig is None:
            continue
        for key in band_keys(sig, config):
            pairs.update((j, i) for j in index[key])
            index[key].append(i)
    return pairs


def _variants(bodies: list[list[str]], rng: random.Random) -> dict[str, list[list[str]]]:
    """Synthetic same-story variants of each body, built from the other bodies' words."""

    def other_words(count: int, exclude: int) -> list[str]:
        out: list[str] = []
        while len(out) < count:
            if (j := rng.randrange(len(bodies))) != exclude:
                out += bodies[j][: count - len(out)]
        return out

    def wrapped(i: int, times: float) -> list[str]:
        extra = other_words(int(len(bodies[i]) * times), i)
        cut = rng.randrange(len(extra) + 1)
        return extra[:cut] + bodies[i] + extra[cut:]

    def new_intro(i: int, share: float) -> list[str]:
        count = int(len(bodies[i]) * share)
        return other_words(count, i) + bodies[i][count:]

    def edited(i: int, every: int) -> list[str]:
        body = list(bodies[i])
        for p in range(rng.randrange(every), len(body), every):
            body[p] = f"edit{rng.randrange(10**6)}"
        return body

    makers: dict[str, Callable[[int], list[str]]] = {
        "boilerplate 1x body": lambda i: wrapped(i, 1.0),
        "boilerplate 2x body": lambda i: wrapped(i, 2.0),
        "boilerplate 3x body": lambda i: wrapped(i, 3.0),
        "new intro 30%": lambda i: new_intro(i, 0.3),
        "new intro 50%": lambda i: new_intro(i, 0.5),
        "1 word in 20 edited": lambda i: edited(i, 20),
        "1 word in 10 edited": lambda i: edited(i, 10),
    }
    return {name: [make(i) for i in range(len(bodies))] for name, make in makers.items()}


def _report_variants(bodies: list[str], config: NearDupConfig, out: TextIO) -> None:
    tokens = [words(body) for body in bodies]
    originals = [signature(body, config) for body in bodies]
    print("synthetic variants of the human-written bodies (share still matched):", file=out)
    for name, variants in _variants(tokens, random.Random(_SEED)).items():
        matched = total = 0
        for original, variant in zip(originals, variants, strict=True):
            copy = signature(" ".join(variant), config)
            if original is None or copy is None:
                continue
            total += 1
            shared = set(band_keys(original, config)) & set(band_keys(copy, config))
            matched += bool(shared) and same_story(original, copy, config)
        print(f"  {name:<22}{matched / total:>7.3f}  ({matched}/{total})", file=out)


def run(path: Path, out: TextIO, config: NearDupConfig | None = None) -> int:
    """Evaluate story grouping on every page under ``path``; 0 when the precision/recall targets are met."""
    config = config or NearDupConfig()
    pages = load_pages(path)
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    name, extract = _extractor()
    keys = [p.key for p in pages]
    urls = {p.key: p.url for p in pages}
    bodies = [p.body for p in pages]
    extracted = [extract(p.html(), p.url) for p in progress(pages, "pages", len(pages))]
    texts = bodies + extracted
    page = keys + keys
    sigs, millis = _signatures(texts, config)
    candidates = _candidates(sigs, config)

    tp = fp = fn = 0
    errors: list[str] = []
    same_scores: list[float] = []
    other_scores: list[float] = []
    for i, j in itertools.combinations(range(len(texts)), 2):
        a, b = sigs[i], sigs[j]
        same = page[i] == page[j]
        decided = a is not None and b is not None and (i, j) in candidates and same_story(a, b, config)
        if a is not None and b is not None:
            (same_scores if same else other_scores).append(containment(a, b))
        tp += same and decided
        fp += decided and not same
        fn += same and not decided
        if same != decided:
            signed = a is not None and b is not None
            detail = f"J={similarity(a, b):.3f} C={containment(a, b):.3f}" if signed else "no signature"
            kind = "missed" if same else "false match"
            errors.append(f"  {kind}: {detail} {page[i][:12]}/{page[j][:12]} {urls[page[i]][:70]}")

    pairs = len(texts) * (len(texts) - 1) // 2
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    unsigned = sum(sig is None for sig in sigs)
    false_candidates = sum(page[i] != page[j] for i, j in candidates)
    print(f"{len(keys)} pages from {path}: {len(texts)} texts (human bodies + {name}); {config}", file=out)
    print(f"texts below min_words={config.min_words} (no signature): {unsigned}", file=out)
    print(
        f"pairs: {pairs} ({len(keys)} same-story, {pairs - len(keys)} different); LSH candidates: "
        f"{len(candidates)}, of which different stories: {false_candidates}",
        file=out,
    )
    print(f"precision {precision:.4f}  recall {recall:.4f}  (tp {tp}, fp {fp}, fn {fn})", file=out)
    if same_scores and other_scores:
        low = sorted(same_scores)
        print(
            f"containment: same-story pairs min {low[0]:.3f}, 5th percentile {low[len(low) // 20]:.3f}; "
            f"different pairs max {max(other_scores):.3f}",
            file=out,
        )
    print(
        f"signature ms/text: mean {statistics.fmean(millis):.2f}, median {statistics.median(millis):.2f}, "
        f"max {max(millis):.2f} (mean {statistics.fmean(len(t) for t in texts) / 1000:.1f} K chars/text)",
        file=out,
    )
    for line in errors:
        print(line, file=out)
    _report_variants(bodies, config, out)
    return 0 if precision >= TARGET_PRECISION and recall >= TARGET_RECALL else 1


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]), sys.stdout))
