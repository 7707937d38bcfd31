"""Stories: near-copies joined by their MinHash band keys, and the stories as read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select

from monitor.store.base import StoreBase
from monitor.store.models import (
    Article,
    StoryBand,
)

NEAR_DUP_CANDIDATES = 50  # most-similar stored articles compared exactly per new article


class _StoryStatements:
    """A story lookup's statements, built once (expanding parameters): building the ``IN`` list of 64 band keys
    cost more than running it."""

    _articles, _bands = Article.__table__.c, StoryBand.__table__.c
    _hits = sa.func.count().label("hits")
    candidates = (
        sa.select(_bands.article_id, _hits)
        .where(_bands.band_key.in_(sa.bindparam("keys", expanding=True)))
        .group_by(_bands.article_id)
        .order_by(_hits.desc())
        .limit(NEAR_DUP_CANDIDATES)
    )
    signatures = (
        sa.select(_articles.id, _articles.story_id, _articles.minhash, _articles.fetched_at)
        .where(_articles.id.in_(sa.bindparam("ids", expanding=True)))
        .order_by(_articles.fetched_at, _articles.id)
    )


class StoryStore(StoreBase):
    """Stories: an article joins the story of its most similar stored near-copy."""

    def _join_story(self, conn: sa.Connection, article: Article) -> list[str]:
        """Set the article's story from the most similar stored near-copy; return its LSH band keys."""
        article.story_id = article.id
        if article.minhash is None:
            return []
        from monitor.dedup.neardup import Signature, band_keys, best_match

        sig = Signature.from_bytes(article.minhash)
        keys = band_keys(sig, self.neardup)
        candidates = conn.execute(_StoryStatements.candidates, {"keys": keys}).all()
        if candidates:
            rows = conn.execute(_StoryStatements.signatures, {"ids": [c[0] for c in candidates]}).all()
            stories = {r[0]: r[1] or r[0] for r in rows}
            match = best_match(sig, [(r[0], Signature.from_bytes(r[2])) for r in rows if r[2]], self.neardup)
            if match is not None:
                article.duplicate_of, article.story_id = match, stories[match]
        return keys

    def story_members(self, story_ids: Sequence[str]) -> dict[str, list[Article]]:
        """The articles of each story, oldest first."""
        result: dict[str, list[Article]] = {sid: [] for sid in story_ids}
        with self.session() as s:
            query = (
                select(Article).where(col(Article.story_id).in_(story_ids))
                .order_by(col(Article.fetched_at), col(Article.id))
            )
            for row in s.exec(query):
                result[row.story_id or row.id].append(row)
        return result

    def stories(
        self, since: datetime | None = None, min_size: int = 1, limit: int | None = None
    ) -> list[tuple[str, int, datetime]]:
        """Stories as (story id, number of articles, latest fetch), most recently active first."""
        with self.session() as s:
            size = sa.func.count().label("size")
            latest = sa.func.max(Article.fetched_at).label("latest")
            query = select(Article.story_id, size, latest).group_by(col(Article.story_id))
            query = query.having(size >= min_size)
            if since:
                query = query.having(latest >= since)
            query = query.order_by(latest.desc(), col(Article.story_id))
            rows = s.exec(query.limit(limit) if limit else query).all()
        return [(sid, n, when) for sid, n, when in rows]

