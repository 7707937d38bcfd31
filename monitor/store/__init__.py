"""Storage: every read and write of the database, split by entity (Miniflux's ``internal/storage``); each write
one transaction through the store's one writer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import select

from monitor.store.alerts import AlertStore
from monitor.store.articles import ArticleStore, NewArticle, SaveResult, Sighting
from monitor.store.base import ArticleHook, storage_fault
from monitor.store.claims import ClaimStore, page_key
from monitor.store.feeds import FeedStore, PollRecord
from monitor.store.labels import LabelStore
from monitor.store.models import Article, Feed

__all__ = [
    "ArticleHook", "NewArticle", "PollRecord", "SaveResult", "Sighting", "Stats", "Store", "page_key", "storage_fault",
]


@dataclass
class Stats:
    feeds: int
    feeds_enabled: int
    feeds_failing: int
    articles: int
    articles_by_source: dict[str, int] = field(default_factory=dict)
    last_poll: datetime | None = None
    errors: list[tuple[str, int, str]] = field(default_factory=list)  # url, consecutive errors, last error




class Store(FeedStore, ArticleStore, AlertStore, LabelStore, ClaimStore):
    """All database access, one class per entity (``monitor.store.feeds``, ``.articles``, ``.stories``,
    ``.alerts``, ``.labels``, ``.claims``). Methods are synchronous; writes go through the one writer
    (``StoreBase._write``).

    ``article_hooks`` run inside the transaction that stores a new article (e.g. to queue alerts); ``stories``
    is how near a copy must be to join a story."""

    def stats(self) -> Stats:
        with self.session() as s:
            feeds = list(s.exec(select(Feed)))
            by_source: dict[str, int] = dict(
                s.exec(select(Article.source, sa.func.count()).group_by(Article.source)).all()  # type: ignore[arg-type]
            )
        polled = [f.last_polled_at for f in feeds if f.last_polled_at]
        return Stats(
            feeds=len(feeds),
            feeds_enabled=sum(f.enabled for f in feeds),
            feeds_failing=sum(f.error_count > 0 for f in feeds),
            articles=sum(by_source.values()),
            articles_by_source=by_source,
            last_poll=max(polled) if polled else None,
            errors=[(f.url, f.error_count, f.last_error or "") for f in feeds if f.error_count or not f.enabled],
        )

