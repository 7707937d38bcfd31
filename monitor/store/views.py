"""Storage: the read-only queries behind the web pages and the API (statements timeline, tag counts, feed
activity)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from monitor.store.models import Article, ArticleSource, ArticleTag, Statement
from monitor.store.query import Node
from monitor.store.search import ArticleSearch


@dataclass(frozen=True)
class FeedActivity:
    """Articles first seen in a feed: how many, and the first and last time."""

    sightings: int
    first: datetime
    last: datetime


class Views:
    """Read queries for the interface."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.search = ArticleSearch(engine)

    def statements(
        self,
        speaker: str | None = None,
        role: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        query: Node | None = None,
        limit: int = 500,
    ) -> list[tuple[Statement, Article]]:
        """Statements with their articles, newest first by the article's publication date (undated articles last;
        a date filter leaves them out); speaker and role are case-insensitive substrings, ``query`` a search over
        the articles."""
        when = col(Article.published)
        q = select(Statement, Article).join(Article, col(Article.id) == col(Statement.article_id))
        if speaker:
            q = q.where(sa.func.lower(Statement.speaker).like(f"%{speaker.lower()}%"))
        if role:
            q = q.where(sa.func.lower(Statement.role).like(f"%{role.lower()}%"))
        if since:
            q = q.where(when >= since)
        if until:
            q = q.where(when < until)
        if query is not None:
            q = q.where(self.search.compiler.condition(query))
        q = q.order_by(when.desc().nulls_last(), col(Statement.article_id), col(Statement.start)).limit(limit)
        with Session(self.engine) as s:
            return [(st, a) for st, a in s.exec(q)]

    def tags_per_day(self, since: datetime) -> tuple[Counter[tuple[date, str]], int]:
        """Tagged articles per (publication day, tag) from ``since``, and how many tagged articles fetched since
        then have no publication date (not charted: their fetch day is not when they appeared)."""
        q = (
            select(ArticleTag.tag, Article.published, Article.id)
            .join(Article, col(Article.id) == col(ArticleTag.article_id))
            # fetched after `since` too (one is fetched after it is published): lets the fetched_at index narrow it
            .where(sa.or_(col(Article.published) >= since, col(Article.published).is_(None)),
                   col(Article.fetched_at) >= since)
        )
        with Session(self.engine) as s:
            rows = s.exec(q).all()
        undated = len({article_id for _tag, published, article_id in rows if published is None})
        return Counter((published.date(), tag) for tag, published, _id in rows if published is not None), undated

    def tag_names(self) -> list[str]:
        """Every tag given to some article."""
        with Session(self.engine) as s:
            return list(s.exec(select(ArticleTag.tag).distinct().order_by(col(ArticleTag.tag))))

    def feed_activity(self) -> dict[int, FeedActivity]:
        """Per feed id: how many articles were seen in it, first and last."""
        source = ArticleSource.__table__.c
        q = (
            sa.select(source.feed_id, sa.func.count(), sa.func.min(source.seen_at), sa.func.max(source.seen_at))
            .where(source.feed_id.is_not(None)).group_by(source.feed_id)
        )
        with Session(self.engine) as s:
            return {feed_id: FeedActivity(n, first, last) for feed_id, n, first, last in s.execute(q)}
