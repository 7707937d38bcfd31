"""Articles: where each was seen (sightings), storing one with its analysis and story, and reading them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from monitor.core.errors import DatabaseError
from monitor.dedup.exact import canonical_url
from monitor.store.alerts import Outbox
from monitor.store.models import (
    Article,
    ArticleSource,
    ArticleTag,
    Feed,
    Statement,
    StoryBand,
    utcnow,
)
from monitor.store.stories import StoryStore


@dataclass(frozen=True)
class Sighting:
    """Where an entry was seen: the feed, the URL as given, its canonical form and the GUID."""

    feed_id: int | None
    url: str
    canonical_url: str | None
    guid: str | None

    def values(self, article_id: str, seen_at: datetime) -> dict[str, Any]:
        """The ``article_source`` row recording this place against an article (for a core insert)."""
        return {
            "article_id": article_id, "feed_id": self.feed_id, "url": self.url, "canonical_url": self.canonical_url,
            "guid": self.guid, "seen_at": seen_at,
        }




@dataclass(frozen=True)
class NewArticle:
    """An article to store, with the place it was seen (None for a seed) and its analysis rows."""

    article: Article
    sighting: Sighting | None
    tags: Sequence[ArticleTag] = ()
    statements: Sequence[Statement] = ()




@dataclass(frozen=True)
class SaveResult:
    article_id: str
    created: bool




def _is_global_guid(guid: str) -> bool:
    """GUIDs that name a resource (URLs, URNs, tag: URIs) identify an entry across feeds."""
    return "://" in guid or guid.startswith(("urn:", "tag:"))




class _SaveStatements:
    """The statements of storing an article, built once: building a statement cost more than running it."""

    _articles = Article.__table__.c
    stored = (
        sa.select(_articles.id)
        .where(sa.or_(_articles.content_hash == sa.bindparam("content_hash"), _articles.id == sa.bindparam("id")))
        .limit(1)
    )
    article = sa.insert(Article.__table__)
    bands = sa.insert(StoryBand.__table__)
    tags = sa.insert(ArticleTag.__table__)
    statements = sa.insert(Statement.__table__)
    sighting = sa.insert(ArticleSource.__table__)


class ArticleStore(StoryStore):
    """Articles, their sightings, tags and statements; storing one joins its story."""

    def find_seen(self, sighting: Sighting) -> str | None:
        """The id of an article already seen under this entry's canonical URL or GUID."""
        conditions = []
        if sighting.canonical_url:
            conditions.append(col(ArticleSource.canonical_url) == sighting.canonical_url)
        if sighting.guid:
            same_guid = col(ArticleSource.guid) == sighting.guid
            if not _is_global_guid(sighting.guid):
                same_guid = sa.and_(same_guid, col(ArticleSource.feed_id) == sighting.feed_id)
            conditions.append(same_guid)
        if not conditions:
            return None
        with self.session() as s:
            return s.exec(select(ArticleSource.article_id).where(sa.or_(*conditions)).limit(1)).first()

    def record_seen(self, sightings: Sequence[Sighting]) -> list[str | None]:
        """For each sighting, the id of the article already seen under its canonical URL or GUID (this place
        recorded against it when new), or None for an entry not seen before. One query, one transaction."""
        urls = {x.canonical_url for x in sightings if x.canonical_url}
        guids = {x.guid for x in sightings if x.guid}
        if not urls and not guids:
            return [None] * len(sightings)
        source = ArticleSource.__table__.c
        with self._write() as s:
            conn = s.connection()
            rows = conn.execute(
                sa.select(source.article_id, source.feed_id, source.url, source.canonical_url, source.guid)
                .where(sa.or_(source.canonical_url.in_(urls), source.guid.in_(guids)))
                .order_by(source.id)
            ).all()
            by_url: dict[str, str] = {}
            by_guid: dict[tuple[str, int | None], str] = {}
            recorded = {(article_id, feed_id, url) for article_id, feed_id, url, _, _ in rows}
            for article_id, feed_id, _, url, guid in rows:
                if url:
                    by_url.setdefault(url, article_id)
                if guid:
                    by_guid.setdefault((guid, None if _is_global_guid(guid) else feed_id), article_id)
            result: list[str | None] = []
            new_rows = []
            now = utcnow()
            for x in sightings:
                scope = None if x.guid and _is_global_guid(x.guid) else x.feed_id
                known = (by_url.get(x.canonical_url) if x.canonical_url else None) or (
                    by_guid.get((x.guid, scope)) if x.guid else None
                )
                result.append(known)
                if known and (known, x.feed_id, x.url) not in recorded:
                    recorded.add((known, x.feed_id, x.url))
                    new_rows.append(x.values(known, now))
            if new_rows:
                conn.execute(sa.insert(ArticleSource), new_rows)
        return result

    def add_sightings(self, pairs: Sequence[tuple[str, Sighting]]) -> int:
        """Record several (article id, sighting) places in one transaction, skipping recorded ones."""
        if not pairs:
            return 0
        source = ArticleSource.__table__.c
        with self._write() as s:
            conn = s.connection()
            recorded = set(conn.execute(
                sa.select(source.article_id, source.feed_id, source.url)
                .where(source.article_id.in_({a for a, _ in pairs}))
            ).all())
            now = utcnow()
            new_rows = []
            for article_id, x in pairs:
                if (article_id, x.feed_id, x.url) not in recorded:
                    recorded.add((article_id, x.feed_id, x.url))
                    new_rows.append(x.values(article_id, now))
            if new_rows:
                conn.execute(sa.insert(ArticleSource), new_rows)
            return len(new_rows)

    def add_sighting(self, article_id: str, sighting: Sighting) -> bool:
        """Record another place an article was seen; False when it was recorded already."""
        with self._write() as s:
            added = self._add_sighting(s, article_id, sighting)
            return added

    @staticmethod
    def _add_sighting(s: Session, article_id: str, sighting: Sighting) -> bool:
        source, conn = ArticleSource.__table__.c, s.connection()
        exists = conn.execute(
            sa.select(source.id).where(
                source.article_id == article_id,
                source.url == sighting.url,
                source.feed_id.is_(None) if sighting.feed_id is None else source.feed_id == sighting.feed_id,
            ).limit(1)
        ).first()
        if exists is not None:
            return False
        conn.execute(sa.insert(ArticleSource.__table__), [sighting.values(article_id, utcnow())])
        return True

    def save_article(
        self,
        article: Article,
        sighting: Sighting | None,
        tags: Sequence[ArticleTag] = (),
        statements: Sequence[Statement] = (),
    ) -> SaveResult:
        """Store a new article with its sighting, tags, statements and story in one transaction, or, when its
        content hash (or id) is stored already, only record the sighting against the stored article."""
        return self.save_articles([NewArticle(article, sighting, tags, statements)])[0]

    def save_articles(self, items: Sequence[NewArticle]) -> list[SaveResult]:
        """``save_article`` for several articles in one transaction (group commit). Later items see the
        earlier ones: a second copy of a text is recorded as a sighting, a near-copy joins its story."""
        for _attempt in range(2):
            try:
                with self._write() as s:
                    return [self._save(s, item) for item in items]
            except IntegrityError:  # another process stored one of these texts meanwhile: look again
                continue
        raise DatabaseError(f"could not store articles {', '.join(i.article.id for i in items)}")

    def _save(self, s: Session, item: NewArticle) -> SaveResult:
        """One article of ``save_articles``; core statements on the session's connection (the ORM's unit of work
        costs more than the rest of the save)."""
        article, sighting = item.article, item.sighting
        conn, sql = s.connection(), _SaveStatements
        existing = conn.execute(sql.stored, {"content_hash": article.content_hash, "id": article.id}).scalar()
        if existing is not None:
            if sighting:
                self._add_sighting(s, existing, sighting)
            return SaveResult(existing, created=False)
        keys = self._join_story(conn, article)
        article.appeared_at = article.appeared()
        conn.execute(sql.article, [article.model_dump()])
        if keys:
            conn.execute(sql.bands, [{"band_key": k, "article_id": article.id} for k in keys])
        if item.tags:
            conn.execute(sql.tags, [{**t.model_dump(), "article_id": article.id} for t in item.tags])
        if item.statements:
            conn.execute(sql.statements, [
                {**st.model_dump(exclude={"id"}), "article_id": article.id} for st in item.statements
            ])
        if sighting:  # a new article has no sightings yet: nothing to check
            conn.execute(sql.sighting, [sighting.values(article.id, utcnow())])
        if self.article_hooks:
            outbox = Outbox(s)
            for hook in self.article_hooks:
                hook(outbox, article)
        return SaveResult(article.id, created=True)

    def article(self, article_id: str) -> Article | None:
        with self.session() as s:
            return s.get(Article, article_id)

    def sightings(self, article_ids: Sequence[str]) -> dict[str, list[ArticleSource]]:
        """Every place each article was seen, oldest first."""
        result: dict[str, list[ArticleSource]] = {a: [] for a in article_ids}
        if not article_ids:
            return result
        with self.session() as s:
            rows = s.exec(
                select(ArticleSource).where(col(ArticleSource.article_id).in_(article_ids))
                .order_by(col(ArticleSource.id))
            )
            for row in rows:
                result[row.article_id].append(row)
        return result

    def articles(
        self,
        since: datetime | None = None,
        feed_url: str | None = None,
        limit: int | None = None,
        newest_first: bool = True,
        tag: str | None = None,
    ) -> list[Article]:
        """Articles by fetched-at time (newest first), optionally filtered; ``since`` applies to the
        published time, or the fetched time where none is known."""
        with self.session() as s:
            query = select(Article)
            if since:
                query = query.where(sa.func.coalesce(col(Article.published), col(Article.fetched_at)) >= since)
            if tag:
                query = query.where(col(Article.id).in_(select(ArticleTag.article_id).where(ArticleTag.tag == tag)))
            if feed_url:
                seen_in = (
                    select(ArticleSource.article_id).join(Feed, col(Feed.id) == col(ArticleSource.feed_id))
                    .where(col(Feed.url).in_({feed_url.strip(), canonical_url(feed_url)}))
                )
                query = query.where(col(Article.id).in_(seen_in))
            order = col(Article.fetched_at).desc() if newest_first else col(Article.fetched_at)
            query = query.order_by(order, col(Article.id))
            if limit:
                query = query.limit(limit)
            return list(s.exec(query))

    def iter_articles_in_storage_order(self, batch: int = 500) -> Iterator[Article]:
        """Every article, oldest stored first, in batches (memory stays flat on large stores)."""
        last: tuple[datetime, str] | None = None
        while True:
            with self.session() as s:
                query = select(Article).order_by(col(Article.fetched_at), col(Article.id)).limit(batch)
                if last:
                    query = query.where(
                        sa.or_(
                            col(Article.fetched_at) > last[0],
                            sa.and_(col(Article.fetched_at) == last[0], col(Article.id) > last[1]),
                        )
                    )
                rows = list(s.exec(query))
            if not rows:
                return
            yield from rows
            last = (rows[-1].fetched_at, rows[-1].id)

    def tag_details(self, article_ids: Sequence[str]) -> dict[str, list[ArticleTag]]:
        result: dict[str, list[ArticleTag]] = {a: [] for a in article_ids}
        with self.session() as s:
            for row in s.exec(select(ArticleTag).where(col(ArticleTag.article_id).in_(article_ids))):
                result[row.article_id].append(row)
        return result

    def statements(
        self,
        article_ids: Sequence[str] | None = None,
        speaker: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[tuple[Statement, Article]]:
        """Statements with their articles, newest publication first (undated articles last; ``since`` leaves
        them out)."""
        with self.session() as s:
            query = select(Statement, Article).join(Article, col(Article.id) == col(Statement.article_id))
            if article_ids is not None:
                query = query.where(col(Statement.article_id).in_(article_ids))
            if speaker:
                pattern = f"%{speaker.lower()}%"
                query = query.where(
                    sa.or_(sa.func.lower(Statement.speaker).like(pattern), sa.func.lower(Statement.role).like(pattern))
                )
            if since:
                query = query.where(col(Article.published) >= since)
            query = query.order_by(
                col(Article.published).desc().nulls_last(), col(Statement.article_id), col(Statement.start)
            )
            return [(st, a) for st, a in s.exec(query.limit(limit) if limit else query)]

    def replace_analysis(
        self, article_id: str, names: list[str], tags: Sequence[ArticleTag], statements: Sequence[Statement]
    ) -> None:
        """Replace an article's tags and statements (after a change of the rules), in one transaction."""
        with self._write() as s:
            article = s.get(Article, article_id)
            if article is None:
                return
            s.exec(sa.delete(ArticleTag).where(col(ArticleTag.article_id) == article_id))  # type: ignore[call-overload]
            s.exec(sa.delete(Statement).where(col(Statement.article_id) == article_id))  # type: ignore[call-overload]
            article.tags = names
            s.add(article)
            s.add_all(tags)
            s.add_all(statements)

    def robots_withheld(self, feed_id: int) -> dict[str, int]:
        """How many of a feed's articles were stored from the feed's text because robots.txt kept their page
        from being fetched, by reason (their ``extraction_method``: "robots.txt disallows", "… unreachable")."""
        with self.session() as s:
            query = (select(Article.extraction_method, sa.func.count())
                     .where(col(Article.feed_id) == feed_id, col(Article.source) == "feed",
                            col(Article.extraction_method).startswith("robots.txt "))
                     .group_by(col(Article.extraction_method)))
            return {str(method): int(n) for method, n in s.exec(query)}

    def article_count(self) -> int:
        with self.session() as s:
            return s.exec(select(sa.func.count()).select_from(Article)).one()

    def tag_names(self) -> set[str]:
        """Every tag given to some stored article."""
        with self.session() as s:
            return set(s.exec(select(ArticleTag.tag).distinct()))

    def article_ids(self) -> set[str]:
        with self.session() as s:
            return set(s.exec(select(Article.id)))

