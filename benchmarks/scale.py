"""Large stores without crawling: bulk-insert synthetic articles (signature, band rows, one sighting each)
straight through the models' tables, and time ``Store.save_article`` / ``Store.find_seen`` at a store size.

Synthetic signatures are random MinHash values; one article in ten is a near-copy of an earlier one (a third
of its values changed, Jaccard ≈ 0.67), so band keys are shared the way syndicated stories share them.
"""

from __future__ import annotations

import hashlib
import random
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from benchmarks.world import _WORDS
from monitor.dedup.neardup import NearDupConfig, Signature, band_keys
from monitor.store import Sighting, Store
from monitor.store.models import Article, ArticleSource, StoryBand

BASE = datetime(2023, 1, 1, tzinfo=UTC)
NEAR_COPY_SHARE = 0.1


def _id(n: int, salt: str = "seed") -> str:
    return hashlib.blake2b(f"{salt}:{n}".encode(), digest_size=8).hexdigest()


class Synth:
    """Synthetic articles; keeps every stored signature so that near-copies can be made of any of them."""

    def __init__(self, seed: int, config: NearDupConfig):
        self.rng = random.Random(seed)
        self.np = np.random.default_rng(seed)
        self.config = config
        self.sigs: list[Signature] = []
        self.story: list[str] = []

    def signature(self) -> tuple[Signature, int | None]:
        if self.sigs and self.rng.random() < NEAR_COPY_SHARE:
            of = self.rng.randrange(len(self.sigs))
            base = self.sigs[of]
            values = np.array(base.hashvalues, dtype=np.uint32)
            changed = self.np.random(len(values)) < 1 / 3
            values[changed] = self.np.integers(0, 2**32, changed.sum(), dtype=np.uint64).astype(np.uint32)
            return Signature(tuple(values.tolist()), base.size + self.rng.randint(-20, 40)), of
        values = self.np.integers(0, 2**32, self.config.num_perm, dtype=np.uint64).astype(np.uint32)
        return Signature(tuple(values.tolist()), self.rng.randint(300, 1500)), None

    def text(self, words: int = 250) -> str:
        return " ".join(self.rng.choices(_WORDS, k=words))

    def article(self, n: int, salt: str = "seed") -> tuple[Article, Signature, int | None]:
        sig, of = self.signature()
        aid = _id(n, salt)
        url = f"http://synthetic.invalid/{salt}/{n}"
        article = Article(
            id=aid, content_hash=aid, canonical_url=url, url=url, guid=url, title=self.text(10), authors=[],
            published=BASE + timedelta(minutes=n), language="en", site_name="Synthetic", text=self.text(),
            source="page", extraction_method="trafilatura", tags=[], fetched_at=BASE + timedelta(seconds=n),
            minhash=sig.to_bytes(),
        )
        return article, sig, of


def seed(engine: Engine, synth: Synth, start: int, stop: int, batch: int = 2000) -> float:
    """Bulk-insert articles ``start`` … ``stop - 1``; returns seconds taken."""
    t0 = time.perf_counter()
    articles, bands, sources = Article.__table__, StoryBand.__table__, ArticleSource.__table__
    for lo in range(start, stop, batch):
        a_rows, b_rows, s_rows = [], [], []
        for n in range(lo, min(stop, lo + batch)):
            article, sig, of = synth.article(n)
            story = synth.story[of] if of is not None else article.id
            synth.sigs.append(sig)
            synth.story.append(story)
            row = article.model_dump()
            row["story_id"], row["duplicate_of"] = story, (_id(of) if of is not None else None)
            a_rows.append(row)
            b_rows.extend({"band_key": k, "article_id": article.id} for k in set(band_keys(sig, synth.config)))
            s_rows.append({"article_id": article.id, "feed_id": None, "url": article.url,
                           "canonical_url": article.canonical_url, "guid": article.guid, "seen_at": article.fetched_at})
        with engine.begin() as conn:
            conn.execute(sa.insert(articles), a_rows)
            conn.execute(sa.insert(bands), b_rows)
            conn.execute(sa.insert(sources), s_rows)
    return time.perf_counter() - t0


@dataclass
class StoreCost:
    size: int
    save_ms_median: float
    save_ms_mean: float
    save_ms_p90: float
    find_seen_ms_median: float
    joined: int  # of the timed articles, how many joined a stored story (near-copies)


def time_store(store: Store, synth: Synth, size: int, count: int = 200, round_: int = 0) -> StoreCost:
    """Per-article cost of ``save_article`` (content-hash check + LSH story lookup + insert + commit) and of
    ``find_seen`` (the per-entry dedup query), for ``count`` new articles on a store of ``size``."""
    save, find = [], []
    joined = 0
    for k in range(count):
        article, _sig, _of = synth.article(round_ * 100_000 + k, salt=f"timed{size}")
        sighting = Sighting(feed_id=None, url=article.url or "", canonical_url=article.canonical_url, guid=None)
        probe = Sighting(None, "", f"http://synthetic.invalid/seed/{synth.rng.randrange(size)}", None)
        t0 = time.perf_counter()
        store.find_seen(probe)
        t1 = time.perf_counter()
        result = store.save_article(article, sighting)
        t2 = time.perf_counter()
        find.append(t1 - t0)
        save.append(t2 - t1)
        joined += bool(result.created and article.duplicate_of)
    save_ms = sorted(x * 1000 for x in save)
    return StoreCost(
        size=size, save_ms_median=statistics.median(save_ms), save_ms_mean=statistics.fmean(save_ms),
        save_ms_p90=save_ms[int(0.9 * len(save_ms))], find_seen_ms_median=statistics.median(find) * 1000,
        joined=joined,
    )
