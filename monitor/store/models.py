"""Database tables (SQLModel). Alembic migrations in ``monitor/migrations`` follow these definitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

from monitor.core.config import PollSettings

GAP_WEIGHT = 0.3  # weight of the newest observed gap in a feed's usual gap (exponential smoothing)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware datetimes on every backend: stored as UTC, returned as aware UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} cannot be stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _dt(nullable: bool = True, index: bool = False, default: Any = None) -> Any:
    kwargs: dict[str, Any] = {"sa_type": UTCDateTime, "nullable": nullable, "index": index}
    if default is not None:
        kwargs["default_factory"] = default
    else:
        kwargs["default"] = None
    return Field(**kwargs)


class Feed(SQLModel, table=True):
    """A polled RSS/Atom feed and its polling state."""

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(unique=True)
    title: str | None = None
    site_url: str | None = None
    folder: str | None = None  # the OPML folder (outline) it was imported from
    enabled: bool = True
    disabled_reason: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    next_poll_at: datetime = _dt(nullable=False, index=True, default=utcnow)
    last_polled_at: datetime | None = _dt()
    last_success_at: datetime | None = _dt()
    error_count: int = 0
    last_error: str | None = None
    created_at: datetime = _dt(nullable=False, default=utcnow)
    # The instance polling the feed now and until when its claim holds (renewed while the poll runs; a claim
    # left by an instance that died expires, then another instance polls the feed).
    lease_owner: str | None = None
    lease_expires_at: datetime | None = _dt()
    poll_interval: int | None = None  # seconds, set by the user (`feeds set URL --interval N`); None: adaptive
    stated_interval: float | None = None  # seconds the publisher asks clients to wait (max-age, Expires, ttl …)
    entry_gap: float | None = None  # the usual seconds between new entries, as the polls observed them
    last_new_entry_at: datetime | None = _dt()
    # The operator has permission to fetch this source's pages whatever its robots.txt says
    # (`feeds set URL --ignore-robots`); the feed itself is never subject to robots.txt.
    ignore_robots: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})

    # Scheduling rules, plain methods on the row: the store's queries apply the same rules in SQL.

    def lease_free(self, now: datetime) -> bool:
        """No live claim: nobody polls the feed, or its poller died and the claim expired."""
        return self.lease_expires_at is None or self.lease_expires_at <= now

    def is_due(self, now: datetime) -> bool:
        """Enabled, its time has come and no live instance polls it."""
        return self.enabled and self.next_poll_at <= now and self.lease_free(now)

    def claim(self, owner: str, now: datetime, lease_seconds: float) -> None:
        """Hold the feed for ``owner`` until ``now + lease_seconds`` (a claim, or its renewal)."""
        self.lease_owner, self.lease_expires_at = owner, now + timedelta(seconds=lease_seconds)

    def release(self) -> None:
        self.lease_owner = self.lease_expires_at = None

    def quiet_for(self, now: datetime) -> float | None:
        """Seconds since the last new entry (None: none seen yet)."""
        return (now - self.last_new_entry_at).total_seconds() if self.last_new_entry_at else None

    def observe_new_entries(self, now: datetime, count: int) -> None:
        """Learn the feed's rhythm from a successful poll that found ``count`` entries not seen before: the gap
        per entry since the previous new one, smoothed (the first poll's entries only start the clock)."""
        if count <= 0:
            return
        quiet = self.quiet_for(now)
        if quiet is not None:
            sample = quiet / count
            previous = sample if self.entry_gap is None else self.entry_gap
            self.entry_gap = (1 - GAP_WEIGHT) * previous + GAP_WEIGHT * sample
        self.last_new_entry_at = now

    def interval(self, settings: PollSettings, now: datetime) -> float:
        """Seconds between polls while healthy: the user's fixed interval; else twice per usual gap (the gap
        growing while the feed stays quiet) within [min_interval, max_interval], or ``poll.interval`` while the
        rhythm is unknown; never faster than the publisher asks (itself capped at max_interval)."""
        if self.poll_interval:
            return float(self.poll_interval)
        if self.entry_gap is None:
            base = settings.interval
        else:
            gap = max(self.entry_gap, self.quiet_for(now) or 0.0)
            base = min(max(gap / 2, settings.min_interval), settings.max_interval)
        return max(base, min(self.stated_interval or 0.0, settings.max_interval))

    def is_silent(self, settings: PollSettings, now: datetime) -> bool:
        """Enabled, answering, but no new entry for ``silent_after`` times its usual gap."""
        quiet = self.quiet_for(now)
        return (self.enabled and self.error_count == 0 and self.entry_gap is not None and quiet is not None
                and quiet > settings.silent_after * max(self.entry_gap, settings.min_interval))

    def enable(self, now: datetime) -> None:
        """Polled again from now on (say, after a 410 that was a mistake), with a clean error count."""
        self.enabled, self.disabled_reason = True, None
        self.error_count, self.last_error, self.next_poll_at = 0, None, now

    def disable(self, reason: str) -> None:
        self.enabled, self.disabled_reason = False, reason

    def retry_delay(self, settings: PollSettings, now: datetime, retry_after: float | None = None) -> float:
        """Seconds until the next poll: the interval when healthy, an exponential back-off (capped) after
        consecutive errors, never sooner than the server's Retry-After."""
        interval = self.interval(settings, now)
        delay = interval if self.error_count == 0 else min(interval * 2**self.error_count, settings.backoff_max)
        return max(delay, retry_after or 0.0)

    def schedule_next_poll(self, now: datetime, settings: PollSettings, retry_after: float | None = None) -> None:
        self.next_poll_at = now + timedelta(seconds=self.retry_delay(settings, now, retry_after))

    def set_interval(self, seconds: int | None, settings: PollSettings, now: datetime) -> None:
        """Fix the poll interval (None: follow the feed's rhythm again), effective at once: the next poll is
        rescheduled from the last one (due now when that time has passed). A back-off in progress is kept."""
        self.poll_interval = seconds
        if self.error_count == 0:
            self.next_poll_at = (self.last_polled_at or now) + timedelta(seconds=self.retry_delay(settings, now))


class PageClaim(SQLModel, table=True):
    """An article page an instance is fetching: instances sharing a PostgreSQL database fetch each page once. The
    claim is renewed while the page is fetched and stored, deleted once it is; a claim left by an instance that
    died expires, and the page is fetched by whoever sees it next."""

    __tablename__ = "page_claim"

    key: str = Field(primary_key=True)  # sha256 of the page's canonical URL (hex)
    owner: str
    expires_at: datetime = _dt(nullable=False)


class HostBudget(SQLModel, table=True):
    """One host's request budget shared by the instances on a PostgreSQL database: when its next request may
    start, in seconds since the epoch by the database's clock (one clock for every machine)."""

    __tablename__ = "host_budget"

    host: str = Field(primary_key=True)  # host[:port], lower case, as the fetcher keys its gates
    next_start: float = 0.0


class HostSlot(SQLModel, table=True):
    """A request in flight to a host, counted against ``http.per_host_concurrency`` for every instance together;
    deleted when the request ends, expiring (the database's clock) when its instance died. The next request to the
    host starts only once this one's headers left (``sent``) and the gap passed."""

    __tablename__ = "host_slot"

    token: str = Field(primary_key=True)
    host: str = Field(index=True)
    owner: str
    sent: bool = False  # its request's headers left (until then no other request to the host may start)
    expires_at: float


class Instance(SQLModel, table=True):
    """A running daemon (or ``poll --once``) sharing the database: its identity and last heartbeat."""

    id: str = Field(primary_key=True)  # the configured instance_name, or host:pid
    host: str
    pid: int
    started_at: datetime = _dt(nullable=False, default=utcnow)
    heartbeat_at: datetime = _dt(nullable=False, default=utcnow)

    def is_live(self, now: datetime, max_age: float) -> bool:
        """Its heartbeat is at most ``max_age`` seconds old."""
        return (now - self.heartbeat_at).total_seconds() <= max_age


class Article(SQLModel, table=True):
    """A stored article: one per distinct text (id = content hash, or the seed file's id)."""

    # Newest-first pages read (appeared_at, id) from this index alone (the search's covering index).
    __table_args__ = (
        sa.Index("ix_article_fetched_at_id", "fetched_at", "id"),
        sa.Index("ix_article_appeared_at_id", "appeared_at", "id"),
    )

    id: str = Field(primary_key=True, max_length=16)
    content_hash: str = Field(index=True, unique=True, max_length=16)
    canonical_url: str | None = Field(default=None, index=True)
    url: str | None = None
    guid: str | None = None
    feed_id: int | None = Field(default=None, foreign_key="feed.id", index=True, ondelete="SET NULL")
    title: str | None = None
    authors: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    published: datetime | None = _dt(index=True)
    language: str | None = None
    site_name: str | None = None
    text: str
    # "page" (extracted from the article page), "feed" (the entry's own content) or "seed".
    source: str
    extraction_method: str | None = None
    tags: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    fetched_at: datetime = _dt(nullable=False, index=True, default=utcnow)
    # When it appeared: its publication time, or its fetch time where none is known (or one later than the fetch
    # is claimed) — the axis of every list, cursor and feed a reader sees (``Article.appeared``; set on storing).
    appeared_at: datetime | None = _dt()
    # Near-duplicate stories: the first-seen article's id, and the stored article this one copies.
    story_id: str | None = Field(default=None, index=True, max_length=16)
    duplicate_of: str | None = Field(default=None, max_length=16)
    minhash: bytes | None = Field(default=None, sa_type=sa.LargeBinary)

    def appeared(self) -> datetime:
        """Its publication time when known and not after the fetch, else the fetch time."""
        published = self.published
        return published if published is not None and published <= self.fetched_at else self.fetched_at


class ArticleSource(SQLModel, table=True):
    """One place an article was seen: a feed entry's URL and GUID."""

    __tablename__ = "article_source"
    __table_args__ = (sa.UniqueConstraint("article_id", "feed_id", "url", name="uq_article_source"),)

    id: int | None = Field(default=None, primary_key=True)
    article_id: str = Field(foreign_key="article.id", index=True, ondelete="CASCADE", max_length=16)
    feed_id: int | None = Field(default=None, foreign_key="feed.id", index=True, ondelete="SET NULL")
    url: str
    canonical_url: str | None = Field(default=None, index=True)
    guid: str | None = Field(default=None, index=True)
    seen_at: datetime = _dt(nullable=False, default=utcnow)


class ArticleTag(SQLModel, table=True):
    """A tag given to an article, with its score and the evidence for it."""

    __tablename__ = "article_tag"

    article_id: str = Field(foreign_key="article.id", primary_key=True, ondelete="CASCADE", max_length=16)
    tag: str = Field(primary_key=True, index=True)
    score: float
    evidence: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)


class Statement(SQLModel, table=True):
    """A statement by a UK defence voice found in an article (offsets into the article text)."""

    id: int | None = Field(default=None, primary_key=True)
    article_id: str = Field(foreign_key="article.id", index=True, ondelete="CASCADE", max_length=16)
    speaker: str | None = Field(default=None, index=True)
    role: str | None = None
    text: str
    # "text" (offsets into the article text) or "title" (offsets into the headline).
    field: str = "text"
    start: int
    end: int
    # "direct" (the speaker's words, shown in quotation marks) or "indirect" (a paraphrase, shown without);
    # None for a row stored before kinds were (``monitor retag`` gives it one).
    kind: str | None = None

    def label(self) -> str:
        """The speaker as shown to people: "Ben Wallace (Defence Secretary)", or a body such as "Ministry of
        Defence" (bodies are speakers: their name is the role)."""
        if self.speaker and self.role:
            return f"{self.speaker} ({self.role})"
        return self.speaker or self.role or "unknown speaker"


class StoryBand(SQLModel, table=True):
    """Locality-sensitive-hashing band keys of an article's text, to find near-copies in constant time."""

    __tablename__ = "story_band"
    __table_args__ = {"sqlite_with_rowid": False}  # the primary key's b-tree holds the rows (migration 0009)

    band_key: str = Field(primary_key=True, max_length=24)
    article_id: str = Field(foreign_key="article.id", primary_key=True, index=True, ondelete="CASCADE", max_length=16)


class FetchLog(SQLModel, table=True):
    """One poll of a feed, for debugging it."""

    __tablename__ = "fetch_log"

    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(foreign_key="feed.id", index=True, ondelete="CASCADE")
    started_at: datetime = _dt(nullable=False, default=utcnow)
    duration_ms: int = 0
    status_code: int | None = None
    # "ok", "not_modified", "unchanged", "error"
    outcome: str
    bytes: int = 0
    entries: int = 0
    new_articles: int = 0
    error: str | None = None


class ServiceState(SQLModel, table=True):
    """Small key/value facts about the installation (first-start flags, last poll)."""

    __tablename__ = "service_state"

    key: str = Field(primary_key=True)
    value: str
    updated_at: datetime = _dt(nullable=False, default=utcnow)


class Alert(SQLModel, table=True):
    """One delivery of an alert to one target in the outbox: pending → sending → sent, or failed with the reason.
    A subscription's alert has a row per target: "email" (its recipients) and each of its [[targets]]."""

    id: int | None = Field(default=None, primary_key=True)
    subscription: str = Field(index=True)
    # "immediate" (one story) or "digest" (every story matched since the previous digest)
    kind: str
    article_ids: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    recipients: list[str] = Field(default_factory=list, sa_type=sa.JSON)  # email only (a URL is never stored)
    # the target's name ("email": the subscription's recipients) and kind ("email", "webhook", "apprise")
    target: str = Field(default="email", sa_column_kwargs={"server_default": "email"})
    target_kind: str = Field(default="email", sa_column_kwargs={"server_default": "email"})
    # the Message-ID of a mail, the Idempotency-Key of a webhook (without "<>"): a resend carries the same one
    message_id: str = Field(unique=True)
    # "pending", "sending" (claimed until next_attempt_at; stale claims are taken over), "sent", "failed"
    status: str = Field(default="pending", index=True)
    attempts: int = 0
    next_attempt_at: datetime = _dt(nullable=False, index=True, default=utcnow)
    last_error: str | None = None
    created_at: datetime = _dt(nullable=False, default=utcnow)
    sent_at: datetime | None = _dt()


class AlertStory(SQLModel, table=True):
    """One story matched by a subscription (alerted once): its first article and the alert carrying it
    (none yet while it waits for the next digest)."""

    __tablename__ = "alert_story"

    subscription: str = Field(primary_key=True)
    story_id: str = Field(primary_key=True, max_length=16)
    article_id: str = Field(foreign_key="article.id", index=True, ondelete="CASCADE", max_length=16)
    alert_id: int | None = Field(default=None, foreign_key="alert.id", index=True, ondelete="SET NULL")
    matched_at: datetime = _dt(nullable=False, default=utcnow)


class Label(SQLModel, table=True):
    """An analyst's relevance feedback on one tag of an article: the tag is wrong, or was missed."""

    __tablename__ = "label"

    id: int | None = Field(default=None, primary_key=True)
    article_id: str = Field(foreign_key="article.id", index=True, ondelete="CASCADE", max_length=16)
    tag: str
    # 1: the article should carry the tag ("missed tag"); 0: it should not ("wrong tag").
    value: int
    note: str | None = None
    created_at: datetime = _dt(nullable=False, default=utcnow)
