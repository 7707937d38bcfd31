"""Search latency at scale on SQLite, and what the full-text index costs on ingest.

    .venv/bin/python -m benchmarks.search                     # 100,000 articles (a few minutes)
    .venv/bin/python -m benchmarks.search --articles 20000    # quicker

Synthetic articles (300 words drawn with a Zipf law from a vocabulary of ~20,000 words, so a word's share of
articles ranges from nearly all to a handful; a third tagged, some with statements) are stored through
``Store.save_articles`` — the pipeline's path, triggers included — into a scratch SQLite database under
benchmarks/.scratch/. The same first articles also go into a database without the index, to price it: time per
article and bytes. Then a mix of queries (common, mid and rare words, phrases, prefixes, OR, exclusions, fields)
runs through ``ArticleSearch.find`` (50 per page, newest first and by relevance), and through the API's read
model as well; median and p95 latency are printed.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from benchmarks.world import _WORDS
from monitor.store import NewArticle, Store
from monitor.store.engine import create_db_engine, migrate
from monitor.store.models import Article, ArticleTag, Statement
from monitor.store.query import parse_query
from monitor.store.readmodels import articles_json
from monitor.store.search import ArticleFilter, ArticleSearch, Order

SCRATCH = Path(__file__).resolve().parent / ".scratch"
BASE = datetime(2024, 1, 1, tzinfo=UTC)
BATCH = 200
SPEAKERS = [("John Healey", "Defence Secretary"), ("Ben Wallace", "Defence Secretary"), (None, "Ministry of Defence"),
            ("Luke Pollard", "Minister for the Armed Forces"), (None, "Downing Street")]
DROP_INDEX = [
    "DROP INDEX ix_article_fetched_at_id", "DROP TRIGGER article_fts_update", "DROP TRIGGER article_fts_delete",
    "DROP TRIGGER article_fts_insert", "DROP TABLE article_fts",
]


class Corpus:
    """Deterministic synthetic articles: the i-th is always the same."""

    def __init__(self, seed: int = 7, vocabulary: int = 20_000):
        rng = np.random.default_rng(seed)
        syllables = ["ka", "lo", "mi", "ren", "tor", "vis", "an", "el", "dru", "pas", "sek", "ul", "bro", "nim"]
        made = {"".join(rng.choice(syllables, size=rng.integers(2, 5))) for _ in range(vocabulary * 2)}
        self.words = np.array(list(dict.fromkeys(list(_WORDS) + sorted(made)))[:vocabulary])
        weights = 1 / np.arange(1, len(self.words) + 1) ** 1.05
        self.p = weights / weights.sum()
        self.seed = seed

    def word(self, rank: int) -> str:
        return str(self.words[rank])

    def article(self, n: int) -> NewArticle:
        rng = np.random.default_rng((self.seed, n))
        text = " ".join(rng.choice(self.words, size=300, p=self.p))
        title = " ".join(rng.choice(self.words, size=8, p=self.p)).capitalize()
        aid = f"{n:016x}"
        roll = rng.random()
        tags = ["ukraine-war"] if roll < 0.3 else []
        statements = []
        if roll < 0.05:
            tags.append("uk-defence-statement")
            speaker, role = SPEAKERS[int(rng.integers(len(SPEAKERS)))]
            statements = [Statement(article_id=aid, speaker=speaker, role=role, text=text[:80], start=0, end=80)]
        article = Article(
            id=aid, content_hash=aid, title=title, text=text, source="page", tags=tags,
            published=BASE + timedelta(minutes=n), fetched_at=BASE + timedelta(minutes=n),
        )
        rows = [ArticleTag(article_id=aid, tag=t, score=1.0, evidence=[]) for t in tags]
        return NewArticle(article, None, rows, statements)


def ingest(store: Store, corpus: Corpus, start: int, stop: int) -> float:
    """Store articles start … stop-1 in group-commit batches; seconds spent in the store (not generating)."""
    spent = 0.0
    for lo in range(start, stop, BATCH):
        items = [corpus.article(n) for n in range(lo, min(stop, lo + BATCH))]
        t0 = time.perf_counter()
        store.save_articles(items)
        spent += time.perf_counter() - t0
    return spent


def fresh(path: Path) -> Store:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    engine = create_db_engine(f"sqlite:///{path}")
    migrate(engine)
    return Store(engine)


def size(path: Path) -> int:
    return sum(Path(f"{path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{path}{s}").exists())


def queries(corpus: Corpus) -> list[str]:
    w = corpus.word
    return [
        w(3),  # in nearly every article
        w(60),  # common
        w(400),  # mid
        w(3000),  # rare
        w(12000),  # very rare
        f'"{w(20)} {w(21)}"',  # phrase of common words
        f'"{w(300)} {w(301)}"',  # phrase of mid words
        w(500)[:4] + "*",  # prefix
        f"{w(400)} OR {w(900)}",
        f"{w(60)} -{w(80)}",
        f"{w(60)} {w(400)} {w(2000)}",
        f"title:{w(200)}",
        f"tag:ukraine-war {w(400)}",
        f"speaker:healey {w(100)}",
        f"feed:nowhere OR {w(1500)}",
        f"({w(300)} OR {w(700)}) -{w(1000)} title:{w(50)}",
    ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(run: Callable[[], object], repeat: int) -> list[float]:
    run()  # warm
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def build(corpus: Corpus, articles: int, priced: int, bare_path: Path, indexed_path: Path) -> Store:
    """Store the corpus (the first ``priced`` articles also without the index, to price it); print the costs."""
    bare = fresh(bare_path)
    with bare.engine.begin() as conn:
        for statement in DROP_INDEX:
            conn.exec_driver_sql(statement)
    t_bare = ingest(bare, corpus, 0, priced)
    bare_bytes = size(bare_path)
    bare.engine.dispose()
    store = fresh(indexed_path)
    t_indexed = ingest(store, corpus, 0, priced)
    indexed_bytes = size(indexed_path)
    print(f"ingest of {priced:,} articles through Store.save_articles (batches of {BATCH}):")
    print(f"  without the index {t_bare:.1f} s ({t_bare / priced * 1000:.3f} ms/article), {bare_bytes / 2**20:.0f} MB")
    print(f"  with the index    {t_indexed:.1f} s ({t_indexed / priced * 1000:.3f} ms/article), "
          f"{indexed_bytes / 2**20:.0f} MB")
    print(f"  index cost: +{(t_indexed - t_bare) / priced * 1000:.3f} ms/article "
          f"(+{(t_indexed / t_bare - 1) * 100:.0f}%), +{(indexed_bytes - bare_bytes) / priced / 1024:.1f} KB/article")

    t_rest = ingest(store, corpus, priced, articles)
    with store.engine.begin() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM article")).scalar()
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    print(f"stored {count:,} articles ({(t_indexed + t_rest) / articles * 1000:.3f} ms/article with the index), "
          f"database {size(indexed_path) / 2**20:.0f} MB")

    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--priced", type=int, default=20_000, help="articles stored with and without the index")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--reuse", action="store_true", help="query the database of the previous run (no ingest)")
    args = parser.parse_args()
    SCRATCH.mkdir(parents=True, exist_ok=True)
    corpus = Corpus()
    priced = min(args.priced, args.articles)

    bare_path, indexed_path = SCRATCH / "search-bare.db", SCRATCH / "search.db"
    if args.reuse:
        store = Store(create_db_engine(f"sqlite:///{indexed_path}"))
    else:
        store = build(corpus, args.articles, priced, bare_path, indexed_path)

    search = ArticleSearch(store.engine)
    rows = []
    every: dict[str, list[float]] = {"find": [], "api": []}
    for q in queries(corpus):
        wanted = ArticleFilter(query=parse_query(q))
        for order in Order:
            hits = len(search.find(wanted, order=order, limit=50).articles)
            find_ms = timed(lambda w=wanted, o=order: search.find(w, limit=50, order=o), args.repeat)
            api_ms = timed(lambda w=wanted, o=order: articles_json(store, search.find(w, limit=50, order=o).articles),
                           args.repeat)
            every["find"] += find_ms
            every["api"] += api_ms
            rows.append((q, order.value, hits, statistics.median(find_ms), statistics.median(api_ms)))
    matches = {q: len(search.find(ArticleFilter(query=parse_query(q))).articles) for q in queries(corpus)[:5]}
    print("\nquery                                              order      page  find ms  +read model ms")
    for q, order, hits, f_ms, a_ms in rows:
        print(f"{q[:50]:<50} {order:<10} {hits:>4} {f_ms:>8.1f} {a_ms:>15.1f}")
    print("\narticles matching the single words: " + ", ".join(f"{q} {n:,}" for q, n in matches.items()))
    for name, values in every.items():
        label = "find (ids + rows)" if name == "find" else "find + article JSON (the API's work)"
        print(f"{label}: median {statistics.median(values):.1f} ms, p95 {percentile(values, 0.95):.1f} ms "
              f"over {len(values)} runs")
    print(f"\nmachine: {os.cpu_count()} cores, SQLite {sqlite3.sqlite_version}")


if __name__ == "__main__":
    main()
