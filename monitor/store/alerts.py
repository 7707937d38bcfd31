"""The alerts' outbox: the rows the pipeline queues and the sender claims, marks and retries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from monitor.store.base import StoreBase
from monitor.store.models import Alert, AlertStory, Article, ArticleTag, Feed, ServiceState, Statement, utcnow


class Outbox:
    """The outbox as an article hook sees it, inside the transaction that stores the article: alerts queued
    here are committed with the article or not at all."""

    def __init__(self, session: Session):
        self._s = session

    def feed_url(self, article: Article) -> str | None:
        feed = self._s.get(Feed, article.feed_id) if article.feed_id is not None else None
        return feed.url if feed else None

    def alerted(self, story_id: str, subscriptions: Sequence[str]) -> set[str]:
        """Which of these subscriptions already recorded this story. Read before adding: a conflicting insert by
        another process then fails at commit, which the store retries (and the retry sees the story alerted)."""
        query = select(AlertStory.subscription).where(
            AlertStory.story_id == story_id, col(AlertStory.subscription).in_(subscriptions)
        )
        return set(self._s.exec(query))

    def queue(
        self, story_id: str, article_id: str, subscriptions: Sequence[str], alerts: dict[str, list[Alert]]
    ) -> None:
        """Record the story for each subscription, with the immediate alerts (by subscription, one per target) to
        send; the story points at the first."""
        self._s.add_all(a for rows in alerts.values() for a in rows)
        self._s.flush()
        self._s.add_all(
            AlertStory(
                subscription=name, story_id=story_id, article_id=article_id,
                alert_id=alerts[name][0].id if alerts.get(name) else None,
            )
            for name in subscriptions
        )


@dataclass
class AlertArticles:
    """The alerted articles with their tags, statements (in text order) and feeds, for rendering."""

    articles: dict[str, Article]
    tags: dict[str, list[ArticleTag]]
    statements: dict[str, list[Statement]]
    feeds: dict[int | None, Feed]


class AlertStore(StoreBase):
    """The outbox of alerts (delivery itself is ``monitor.alerts.sender``'s)."""

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
        with self._write() as s:
            alert = s.get(Alert, alert_id)
            if alert is None or alert.status in ("sent", "sending"):
                return alert
            alert.status, alert.attempts, alert.next_attempt_at = "pending", 0, utcnow()
            s.add(alert)
            return alert

    def build_digest(
        self, subscription: str, state_key: str, last: str, now: datetime,
        make_alerts: Callable[[list[str]], list[Alert]],
    ) -> list[int]:
        """Build one digest of the stories recorded for ``subscription`` and not sent yet, unless another instance
        has built it since ``last`` was read: the state row is locked (PostgreSQL), so of several instances
        sharing the database one builds it, the others see it built. Returns the new alerts' ids, one per target
        (none: nothing to send, or built elsewhere)."""
        try:
            with self._write() as s:
                state = s.exec(select(ServiceState).where(ServiceState.key == state_key).with_for_update()).first()
                if state is None or state.value != last:
                    return []
                rows = s.exec(
                    select(AlertStory.story_id, Article.id)
                    .join(Article, col(Article.id) == col(AlertStory.article_id))
                    .where(AlertStory.subscription == subscription, col(AlertStory.alert_id).is_(None))
                    .order_by(sa.func.coalesce(col(Article.published), col(Article.fetched_at)).desc(),
                              col(Article.id))
                ).all()
                alerts = make_alerts([r[1] for r in rows]) if rows else []
                if alerts:
                    s.add_all(alerts)
                    s.flush()
                    s.exec(  # type: ignore[call-overload]
                        sa.update(AlertStory)
                        .where(col(AlertStory.subscription) == subscription,
                               col(AlertStory.story_id).in_([r[0] for r in rows]))
                        .values(alert_id=alerts[0].id)
                    )
                state.value, state.updated_at = now.isoformat(), now
                s.add(state)
                return [a.id for a in alerts if a.id is not None]
        except IntegrityError:  # another process built the same digest
            return []

    def due_alert_ids(self, force: bool) -> list[int]:
        """Alerts to send now: pending ones past their back-off (``force``: every pending one) and stale claims."""
        now = utcnow()
        with self.session() as s:
            query = select(Alert.id).where(
                sa.or_(
                    col(Alert.status) == "pending" if force else sa.and_(
                        col(Alert.status) == "pending", col(Alert.next_attempt_at) <= now
                    ),
                    sa.and_(col(Alert.status) == "sending", col(Alert.next_attempt_at) <= now),
                )
            )
            return [i for i in s.exec(query.order_by(col(Alert.id))) if i is not None]

    def claim_alert(self, alert_id: int, force: bool, claim_time: timedelta) -> Alert | None:
        """Mark one alert "sending" (counting the attempt) unless another sender holds it; None when not claimed."""
        now = utcnow()
        due = col(Alert.next_attempt_at) <= now
        claimable = sa.or_(
            sa.and_(col(Alert.status) == "pending", sa.true() if force else due),
            sa.and_(col(Alert.status) == "sending", due),  # a stale claim: its sender died
        )
        with self._write() as s:
            result = s.exec(  # type: ignore[call-overload]
                sa.update(Alert).where(col(Alert.id) == alert_id, claimable)
                .values(status="sending", attempts=col(Alert.attempts) + 1, next_attempt_at=now + claim_time)
            )
        if result.rowcount != 1:
            return None
        with self.session() as s:
            return s.get(Alert, alert_id)

    def finish_alert(self, alert_id: int, **values: object) -> None:
        """Record a delivery's outcome (status, times, error) on the alert."""
        with self._write() as s:
            s.exec(sa.update(Alert).where(col(Alert.id) == alert_id).values(**values))  # type: ignore[call-overload]

    def alert_articles(self, article_ids: Sequence[str]) -> AlertArticles:
        """The alerted articles with what a message shows of them."""
        with self.session() as s:
            articles = {a.id: a for a in s.exec(select(Article).where(col(Article.id).in_(article_ids)))}
            tags: dict[str, list[ArticleTag]] = {}
            for t in s.exec(select(ArticleTag).where(col(ArticleTag.article_id).in_(article_ids))):
                tags.setdefault(t.article_id, []).append(t)
            statements: dict[str, list[Statement]] = {}
            query = select(Statement).where(col(Statement.article_id).in_(article_ids)).order_by(col(Statement.start))
            for st in s.exec(query):
                statements.setdefault(st.article_id, []).append(st)
            feed_ids = {a.feed_id for a in articles.values() if a.feed_id is not None}
            feeds = {f.id: f for f in s.exec(select(Feed).where(col(Feed.id).in_(feed_ids)))}
        return AlertArticles(articles, tags, statements, feeds)

    def trim_sent_alerts(self, before: datetime) -> int:
        """Delete the alerts sent before ``before``; pending, sending and failed ones stay. Returns how many.

        A story's record must go on pointing at a sent alert: without one it would look unsent and go into the
        subscription's next digest. So the newest of a subscription's alerts to delete stays, and the records of
        the others point at it from now on — one old alert per subscription, until a newer one is trimmed."""
        old = sa.and_(col(Alert.status) == "sent", col(Alert.sent_at) < before)
        deleted = 0
        with self._write() as s:
            newest = s.exec(select(Alert.subscription, sa.func.max(Alert.id)).where(old).group_by(Alert.subscription))
            for subscription, kept in newest.all():
                trimmed = select(Alert.id).where(old, col(Alert.subscription) == subscription, col(Alert.id) != kept)
                s.exec(  # type: ignore[call-overload]
                    sa.update(AlertStory).where(col(AlertStory.alert_id).in_(trimmed)).values(alert_id=kept)
                )
                result = s.exec(sa.delete(Alert).where(col(Alert.id).in_(trimmed)))  # type: ignore[call-overload]
                deleted += result.rowcount
        return deleted

    def alert_count(self, statuses: Sequence[str]) -> int:
        with self.session() as s:
            return s.exec(select(sa.func.count()).select_from(Alert).where(col(Alert.status).in_(statuses))).one()

