"""Storage: every read and write of the database, each write one transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from monitor.core.config import PollSettings, StoriesSettings
from monitor.core.errors import DatabaseError
from monitor.dedup.exact import canonical_url
from monitor.store.models import (
    Alert,
    Article,
    ArticleSource,
    ArticleTag,
    Feed,
    FetchLog,
    Instance,
    ServiceState,
    Statement,
    StoryBand,
    utcnow,
)

if TYPE_CHECKING:
    from monitor.dedup.neardup import NearDupConfig


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


@dataclass
class PollRecord:
    """The outcome of polling one feed, as stored in its state and fetch history."""

    feed_id: int
    started_at: datetime
    outcome: str  # ok, not_modified, unchanged, error, gone
    duration_ms: int = 0
    status_code: int | None = None
    bytes: int = 0
    entries: int = 0
    new_articles: int = 0
    error: str | None = None
    retry_after: float | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    moved_to: str | None = None
    title: str | None = None
    site_url: str | None = None
    new_entries: int = 0  # entries not seen before (the feed's rhythm)
    stated_interval: float | None = None  # seconds the server and the document ask clients to wait


@dataclass(frozen=True)
class SaveResult:
    article_id: str
    created: bool


@dataclass
class Stats:
    feeds: int
    feeds_enabled: int
    feeds_failing: int
    articles: int
    articles_by_source: dict[str, int] = field(default_factory=dict)
    last_poll: datetime | None = None
    errors: list[tuple[str, int, str]] = field(default_factory=list)  # url, consecutive errors, last error


def _is_global_guid(guid: str) -> bool:
    """GUIDs that name a resource (URLs, URNs, tag: URIs) identify an entry across feeds."""
    return "://" in guid or guid.startswith(("urn:", "tag:"))


NEAR_DUP_CANDIDATES = 50  # most-similar stored articles compared exactly per new article
ArticleHook = Callable[[Session, Article], None]


class _SaveStatements:
    """The statements of storing an article, built once: building a statement (and its ``IN`` list of 64 band
    keys) cost more than running it. The lists are expanding parameters."""

    _articles, _bands = Article.__table__.c, StoryBand.__table__.c
    _hits = sa.func.count().label("hits")
    stored = (
        sa.select(_articles.id)
        .where(sa.or_(_articles.content_hash == sa.bindparam("content_hash"), _articles.id == sa.bindparam("id")))
        .limit(1)
    )
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
    article = sa.insert(Article.__table__)
    bands = sa.insert(StoryBand.__table__)
    tags = sa.insert(ArticleTag.__table__)
    statements = sa.insert(Statement.__table__)
    sighting = sa.insert(ArticleSource.__table__)


class Store:
    """All database access. Methods are synchronous; the pipeline calls them from one writer thread.

    ``article_hooks`` run inside the transaction that stores a new article (e.g. to queue alerts); ``stories``
    is how near a copy must be to join a story."""

    def __init__(self, engine: Engine, stories: StoriesSettings | None = None):
        self.engine = engine
        self.story_settings = stories or StoriesSettings()
        self.article_hooks: list[ArticleHook] = []

    @cached_property
    def neardup(self) -> NearDupConfig:
        """The near-duplicate check of ``stories``, made at the first story lookup (it loads numpy)."""
        from monitor.dedup.neardup import NearDupConfig

        return NearDupConfig.of(self.story_settings)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def ping(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except OperationalError as exc:
            raise DatabaseError(f"database does not answer: {str(exc.orig).strip().splitlines()[0]}") from None

    # --- service state -------------------------------------------------------------------------------

    def get_state(self, key: str) -> str | None:
        with self.session() as s:
            row = s.get(ServiceState, key)
            return row.value if row else None

    def set_state(self, key: str, value: str) -> None:
        """Insert or update in one statement: two processes setting a new key at once must not collide."""
        if self.engine.dialect.name == "sqlite":  # the other dialect's module is not loaded
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        row = {"key": key, "value": value, "updated_at": utcnow()}
        statement = insert(ServiceState).values(row).on_conflict_do_update(index_elements=["key"], set_=row)
        with self.session() as s:
            s.execute(statement)
            s.commit()

    # --- feeds ---------------------------------------------------------------------------------------

    @staticmethod
    def _feed_query(url: str) -> Any:
        """The feed with this URL: compared in canonical form (``HTTP://host/./feed.xml#x`` and
        ``http://host/feed.xml?utm_source=y`` are ``http://host/feed.xml``), or as given for a feed stored
        before URLs were normalised."""
        return select(Feed).where(col(Feed.url).in_({url.strip(), canonical_url(url)})).order_by(col(Feed.id))

    def add_feed(
        self, url: str, title: str | None = None, site_url: str | None = None, folder: str | None = None
    ) -> tuple[Feed, bool]:
        """Add a feed (due at once) under its canonical URL; returns it and whether it was new."""
        with self.session() as s:
            existing = s.exec(self._feed_query(url)).first()
            if existing:
                return existing, False
            feed = Feed(url=canonical_url(url), title=title, site_url=site_url, folder=folder)
            s.add(feed)
            s.commit()
            return feed, True

    def feed(self, url: str) -> Feed | None:
        with self.session() as s:
            return s.exec(self._feed_query(url)).first()

    def remove_feed(self, url: str) -> bool:
        with self.session() as s:
            feed = s.exec(self._feed_query(url)).first()
            if feed is None:
                return False
            s.exec(sa.delete(FetchLog).where(col(FetchLog.feed_id) == feed.id))  # type: ignore[call-overload]
            s.delete(feed)
            s.commit()
            return True

    def set_feed_enabled(self, url: str, enabled: bool, reason: str | None = None) -> Feed | None:
        """Enable a feed (due at once, its error count reset) or disable it with a reason; its history and
        articles stay. None when there is no such feed."""
        return self._update_feed(url, lambda feed: feed.enable(utcnow()) if enabled else feed.disable(reason or ""))

    def set_feed_interval(self, url: str, seconds: int | None) -> Feed | None:
        """Fix a feed's poll interval (None: adaptive again). None when there is no such feed."""
        return self._update_feed(url, lambda feed: setattr(feed, "poll_interval", seconds))

    def _update_feed(self, url: str, change: Callable[[Feed], object]) -> Feed | None:
        with self.session() as s:
            feed = s.exec(self._feed_query(url)).first()
            if feed is None:
                return None
            change(feed)
            s.add(feed)
            s.commit()
            return feed

    def silent_feeds(self, settings: PollSettings, now: datetime | None = None) -> list[Feed]:
        """Feeds that answer but have had no new entry for several times their usual gap (``Feed.is_silent``)."""
        now = now or utcnow()
        with self.session() as s:
            query = select(Feed).where(col(Feed.enabled).is_(True), col(Feed.entry_gap).is_not(None))
            return [f for f in s.exec(query.order_by(col(Feed.id))) if f.is_silent(settings, now)]

    def feeds(self) -> list[Feed]:
        with self.session() as s:
            return list(s.exec(select(Feed).order_by(col(Feed.id))))

    def feed_count(self) -> int:
        with self.session() as s:
            return s.exec(select(sa.func.count()).select_from(Feed)).one()

    def claim_due_feeds(self, owner: str, lease_seconds: float, limit: int, now: datetime | None = None) -> list[Feed]:
        """Claim up to ``limit`` due feeds for ``owner`` (``Feed.is_due``, oldest due first): on PostgreSQL rows
        another instance is claiming are skipped (``FOR UPDATE SKIP LOCKED``), so instances never share a feed."""
        now = now or utcnow()
        lease_free = sa.or_(col(Feed.lease_expires_at).is_(None), col(Feed.lease_expires_at) <= now)
        query = (
            select(Feed)
            .where(col(Feed.enabled).is_(True), col(Feed.next_poll_at) <= now, lease_free)
            .order_by(col(Feed.next_poll_at), col(Feed.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return self._claim(query, owner, lease_seconds, now)

    def claim_feed(
        self, feed_id: int, owner: str, lease_seconds: float, force: bool = False, now: datetime | None = None
    ) -> Feed | None:
        """Claim one feed if it is due (``force``: due or not, its back-off reset); None when it is not due or
        another instance polls it."""
        now = now or utcnow()
        query = select(Feed).where(col(Feed.id) == feed_id)
        if not force:
            query = query.where(col(Feed.enabled).is_(True), col(Feed.next_poll_at) <= now)
        feeds = self._claim(query.with_for_update(skip_locked=True), owner, lease_seconds, now, reset=force)
        return feeds[0] if feeds else None

    def _claim(self, query: Any, owner: str, lease_seconds: float, now: datetime, reset: bool = False) -> list[Feed]:
        with self.session() as s:
            feeds = [f for f in s.exec(query) if f.lease_free(now) or f.lease_owner == owner]
            for feed in feeds:
                feed.claim(owner, now, lease_seconds)
                if reset:
                    feed.error_count, feed.next_poll_at = 0, now
                s.add(feed)
            s.commit()
            return feeds

    def renew_leases(self, owner: str, feed_ids: Sequence[int], lease_seconds: float) -> int:
        """Extend ``owner``'s claims on feeds it is still polling; returns how many it still held."""
        if not feed_ids:
            return 0
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.update(Feed.__table__)
                .where(Feed.__table__.c.id.in_(feed_ids), Feed.__table__.c.lease_owner == owner)
                .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
            )
            return result.rowcount

    def release_leases(self, owner: str | None) -> None:
        """Give up every claim of ``owner`` (it stops; its unfinished feeds are due to the others at once);
        ``None``: everyone's (the sole instance on an SQLite file clears the claims of a process killed there)."""
        with self.engine.begin() as conn:
            table = Feed.__table__.c
            update = sa.update(Feed.__table__).where(table.lease_owner.is_not(None))
            if owner is not None:
                update = update.where(table.lease_owner == owner)
            conn.execute(update.values(lease_owner=None, lease_expires_at=None))

    # --- instances -----------------------------------------------------------------------------------

    def heartbeat(self, instance_id: str, host: str, pid: int) -> None:
        """Record that this instance is alive (one row per instance: heartbeats of several never collide)."""
        with self.session() as s:
            row = s.get(Instance, instance_id) or Instance(id=instance_id, host=host, pid=pid)
            row.host, row.pid, row.heartbeat_at = host, pid, utcnow()
            s.add(row)
            s.commit()

    def remove_instance(self, instance_id: str) -> None:
        with self.session() as s:
            row = s.get(Instance, instance_id)
            if row is not None:
                s.delete(row)
                s.commit()

    def instances(self) -> list[Instance]:
        """Every instance that sent a heartbeat and did not stop cleanly, most recent heartbeat first."""
        with self.session() as s:
            return list(s.exec(select(Instance).order_by(col(Instance.heartbeat_at).desc(), col(Instance.id))))

    def next_due(self) -> datetime | None:
        """When the next enabled feed is due (None: no enabled feed)."""
        with self.session() as s:
            return s.exec(select(sa.func.min(Feed.next_poll_at)).where(col(Feed.enabled).is_(True))).one()

    def fetch_history(self, feed_id: int, limit: int = 20) -> list[FetchLog]:
        with self.session() as s:
            query = (
                select(FetchLog).where(FetchLog.feed_id == feed_id)
                .order_by(col(FetchLog.id).desc()).limit(limit)
            )
            return list(s.exec(query))

    def record_polls(self, records: Sequence[PollRecord], settings: PollSettings) -> list[Feed | None]:
        """Store polls' outcomes — conditional-GET validators, schedule, errors and a history row each — in one
        transaction (a cycle of mostly-304 feeds costs one write, not one per feed); None for a feed removed
        while it was being polled."""
        now = utcnow()
        result: list[Feed | None] = []
        with self.session() as s:
            ids = sorted({r.feed_id for r in records})
            feeds: dict[int | None, Feed] = {}
            for i in range(0, len(ids), 500):  # one query per 500 feeds, not one per feed
                feeds.update((f.id, f) for f in s.exec(select(Feed).where(col(Feed.id).in_(ids[i : i + 500]))))
            history = []
            for record in records:
                feed = feeds.get(record.feed_id)
                if feed is None:
                    result.append(None)
                    continue
                self._apply_poll(s, feed, record, settings, now)
                history.append({
                    "feed_id": record.feed_id, "started_at": record.started_at, "duration_ms": record.duration_ms,
                    "status_code": record.status_code, "outcome": record.outcome, "bytes": record.bytes,
                    "entries": record.entries, "new_articles": record.new_articles, "error": record.error,
                })
                result.append(feed)
            if history:
                s.flush()
                s.execute(sa.insert(FetchLog), history)
                self._trim_history(s, sorted({h["feed_id"] for h in history}), settings.history_keep)
            s.commit()
        return result

    @staticmethod
    def _trim_history(s: Session, feed_ids: list[int], keep: int) -> None:
        """Keep the newest ``keep`` fetch-history rows of each feed (one statement for many feeds)."""
        for i in range(0, len(feed_ids), 500):
            ranked = (
                select(
                    col(FetchLog.id).label("id"),
                    sa.func.row_number().over(
                        partition_by=col(FetchLog.feed_id), order_by=col(FetchLog.id).desc()
                    ).label("rank"),
                )
                .where(col(FetchLog.feed_id).in_(feed_ids[i : i + 500]))
                .subquery()
            )
            old = select(ranked.c.id).where(ranked.c.rank > keep)
            trim = sa.delete(FetchLog).where(col(FetchLog.id).in_(old))
            s.execute(trim.execution_options(synchronize_session=False))

    @staticmethod
    def _apply_poll(s: Session, feed: Feed, record: PollRecord, settings: PollSettings, now: datetime) -> None:
        feed.last_polled_at = now
        if record.outcome in ("ok", "not_modified", "unchanged"):
            feed.error_count = 0
            feed.last_error = None
            feed.last_success_at = now
            if record.outcome != "not_modified":
                feed.etag, feed.last_modified = record.etag, record.last_modified
                feed.body_hash = record.body_hash
            if record.outcome == "ok" or record.stated_interval is not None:  # a 304 may not repeat it
                feed.stated_interval = record.stated_interval
            feed.observe_new_entries(now, record.new_entries)
            feed.title = record.title or feed.title
            feed.site_url = record.site_url or feed.site_url
            moved_to = canonical_url(record.moved_to) if record.moved_to else None
            if moved_to and moved_to != feed.url:
                taken = s.exec(select(Feed.id).where(Feed.url == moved_to)).first()
                if taken is None:
                    feed.url = moved_to
        else:
            feed.error_count += 1
            feed.last_error = record.error
            if record.outcome == "gone":
                feed.disable(f"410 Gone on {now:%Y-%m-%d %H:%M} UTC: the publisher removed the feed")
        feed.schedule_next_poll(now, settings, record.retry_after)
        feed.release()
        s.add(feed)

    # --- articles ------------------------------------------------------------------------------------

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
        with self.engine.begin() as conn:
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
        with self.engine.begin() as conn:
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
        with self.session() as s:
            added = self._add_sighting(s, article_id, sighting)
            s.commit()
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
            with self.session() as s:
                try:
                    results = [self._save(s, item) for item in items]
                    s.commit()
                except IntegrityError:  # another process stored one of these texts meanwhile: look again
                    s.rollback()
                    continue
                return results
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
        for hook in self.article_hooks:
            hook(s, article)
        return SaveResult(article.id, created=True)

    def _join_story(self, conn: sa.Connection, article: Article) -> list[str]:
        """Set the article's story from the most similar stored near-copy; return its LSH band keys."""
        article.story_id = article.id
        if article.minhash is None:
            return []
        from monitor.dedup.neardup import Signature, band_keys, best_match

        sig = Signature.from_bytes(article.minhash)
        keys = band_keys(sig, self.neardup)
        candidates = conn.execute(_SaveStatements.candidates, {"keys": keys}).all()
        if candidates:
            rows = conn.execute(_SaveStatements.signatures, {"ids": [c[0] for c in candidates]}).all()
            stories = {r[0]: r[1] or r[0] for r in rows}
            match = best_match(sig, [(r[0], Signature.from_bytes(r[2])) for r in rows if r[2]], self.neardup)
            if match is not None:
                article.duplicate_of, article.story_id = match, stories[match]
        return keys

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
        """Statements with their articles, newest article first."""
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
                query = query.where(sa.func.coalesce(col(Article.published), col(Article.fetched_at)) >= since)
            query = query.order_by(col(Article.fetched_at).desc(), col(Statement.article_id), col(Statement.start))
            return [(st, a) for st, a in s.exec(query.limit(limit) if limit else query)]

    def replace_analysis(
        self, article_id: str, names: list[str], tags: Sequence[ArticleTag], statements: Sequence[Statement]
    ) -> None:
        """Replace an article's tags and statements (after a change of the rules), in one transaction."""
        with self.session() as s:
            article = s.get(Article, article_id)
            if article is None:
                return
            s.exec(sa.delete(ArticleTag).where(col(ArticleTag.article_id) == article_id))  # type: ignore[call-overload]
            s.exec(sa.delete(Statement).where(col(Statement.article_id) == article_id))  # type: ignore[call-overload]
            article.tags = names
            s.add(article)
            s.add_all(tags)
            s.add_all(statements)
            s.commit()

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

    # --- alerts (the outbox; delivery is monitor.alerts.sender's) ------------------------------------------

    def alerts(self, statuses: Sequence[str] | None = None, limit: int | None = None) -> list[Alert]:
        """Alerts, newest first, optionally only those with one of ``statuses``."""
        with self.session() as s:
            query = select(Alert).order_by(col(Alert.id).desc())
            if statuses:
                query = query.where(col(Alert.status).in_(statuses))
            return list(s.exec(query.limit(limit) if limit else query))

    def retry_alert(self, alert_id: int) -> Alert | None:
        """Make a pending or failed alert due now with a fresh count of attempts; returns the alert as it is
        afterwards (a sent or sending one unchanged), None when there is no such alert."""
        with self.session() as s:
            alert = s.get(Alert, alert_id)
            if alert is None or alert.status in ("sent", "sending"):
                return alert
            alert.status, alert.attempts, alert.next_attempt_at = "pending", 0, utcnow()
            s.add(alert)
            s.commit()
            return alert

    def alert_count(self, statuses: Sequence[str]) -> int:
        with self.session() as s:
            return s.exec(select(sa.func.count()).select_from(Alert).where(col(Alert.status).in_(statuses))).one()

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
