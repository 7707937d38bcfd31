"""Feeds: the list, leases between instances, poll records and fetch history."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from monitor.core.config import PollSettings
from monitor.dedup.exact import canonical_url
from monitor.store.base import StoreBase
from monitor.store.models import (
    Feed,
    FetchLog,
    utcnow,
)


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




class FeedStore(StoreBase):
    """Feeds, their claims (leases) and what polling them gave."""

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
        with self._write() as s:
            existing = s.exec(self._feed_query(url)).first()
            if existing:
                return existing, False
            feed = Feed(url=canonical_url(url), title=title, site_url=site_url, folder=folder)
            s.add(feed)
            return feed, True

    def feed(self, url: str) -> Feed | None:
        with self.session() as s:
            return s.exec(self._feed_query(url)).first()

    def remove_feed(self, url: str) -> bool:
        with self._write() as s:
            feed = s.exec(self._feed_query(url)).first()
            if feed is None:
                return False
            s.exec(sa.delete(FetchLog).where(col(FetchLog.feed_id) == feed.id))  # type: ignore[call-overload]
            s.delete(feed)
            return True

    def set_feed_enabled(self, url: str, enabled: bool, reason: str | None = None) -> Feed | None:
        """Enable a feed (due at once, its error count reset) or disable it with a reason; its history and
        articles stay. None when there is no such feed."""
        return self._update_feed(url, lambda feed: feed.enable(utcnow()) if enabled else feed.disable(reason or ""))

    def set_feed_interval(self, url: str, seconds: int | None, settings: PollSettings) -> Feed | None:
        """Fix a feed's poll interval (None: adaptive again), its next poll rescheduled at once
        (``Feed.set_interval``). None when there is no such feed."""
        return self._update_feed(url, lambda feed: feed.set_interval(seconds, settings, utcnow()))

    def set_feed_ignore_robots(self, url: str, ignore: bool) -> Feed | None:
        """Fetch this feed's article pages whatever robots.txt says (the operator has permission), or obey it
        again. None when there is no such feed."""
        return self._update_feed(url, lambda feed: setattr(feed, "ignore_robots", ignore))

    def _update_feed(self, url: str, change: Callable[[Feed], object]) -> Feed | None:
        with self._write() as s:
            feed = s.exec(self._feed_query(url)).first()
            if feed is None:
                return None
            change(feed)
            s.add(feed)
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

    def feed_urls(self, feed_ids: Collection[int | None] | None = None) -> dict[int, str]:
        """The URL of each feed by id (of those in ``feed_ids`` alone, when given): two columns, no feed rows."""
        query = select(Feed.id, Feed.url)
        if feed_ids is not None:
            query = query.where(col(Feed.id).in_({i for i in feed_ids if i is not None}))
        with self.session() as s:
            return {feed_id: url for feed_id, url in s.exec(query) if feed_id is not None}

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
        with self._write() as s:
            feeds = [f for f in s.exec(query) if f.lease_free(now) or f.lease_owner == owner]
            for feed in feeds:
                feed.claim(owner, now, lease_seconds)
                if reset:
                    feed.error_count, feed.next_poll_at = 0, now
                s.add(feed)
            return feeds

    def renew_leases(self, owner: str, feed_ids: Sequence[int], lease_seconds: float) -> int:
        """Extend ``owner``'s claims on feeds it is still polling; returns how many it still held."""
        if not feed_ids:
            return 0
        with self._write() as s:
            conn = s.connection()
            result = conn.execute(
                sa.update(Feed.__table__)
                .where(Feed.__table__.c.id.in_(feed_ids), Feed.__table__.c.lease_owner == owner)
                .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
            )
            return result.rowcount

    def release_leases(self, owner: str | None) -> None:
        """Give up every claim of ``owner`` (it stops; its unfinished feeds are due to the others at once);
        ``None``: everyone's (the sole instance on an SQLite file clears the claims of a process killed there)."""
        with self._write() as s:
            conn = s.connection()
            table = Feed.__table__.c
            update = sa.update(Feed.__table__).where(table.lease_owner.is_not(None))
            if owner is not None:
                update = update.where(table.lease_owner == owner)
            conn.execute(update.values(lease_owner=None, lease_expires_at=None))

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
        with self._write() as s:
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

