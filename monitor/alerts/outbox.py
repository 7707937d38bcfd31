"""The outbox: alerts recorded in the same transaction as the article that triggers them."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence

from sqlmodel import Session, col, select

from monitor.core.alert_settings import Subscription
from monitor.core.config import Settings
from monitor.core.errors import ConfigError
from monitor.store import ArticleHook
from monitor.store.models import Alert, AlertStory, Article, Feed


def check_subscriptions(settings: Settings) -> list[Subscription]:
    """The configured subscriptions; their names must be distinct (they key the outbox)."""
    names = [s.name for s in settings.subscriptions]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"duplicate subscription name(s): {', '.join(duplicates)}")
    return list(settings.subscriptions)


def message_id(settings: Settings, subscription: str, article_ids: Iterable[str]) -> str:
    """A stable Message-ID for an alert: a resend of the same alert carries the same one."""
    digest = hashlib.sha256(f"{subscription}|{','.join(sorted(article_ids))}".encode()).hexdigest()[:32]
    domain = settings.alerts.message_id_domain or settings.smtp.from_addr.rpartition("@")[2] or "monitor"
    return f"<{digest}@{domain.strip('<>')}>"


class Matcher:
    """Whether an article matches a subscription's filter (tags all/any, keywords, feeds)."""

    def __init__(self, subscription: Subscription):
        self.subscription = subscription
        words = "|".join(re.escape(k.strip()) for k in subscription.keywords if k.strip())
        self._keywords = re.compile(rf"(?<!\w)(?:{words})(?!\w)", re.IGNORECASE) if words else None

    def matches(self, article: Article, feed_url: str | None) -> bool:
        sub = self.subscription
        if sub.tags:
            have = set(article.tags)
            found = all(t in have for t in sub.tags) if sub.match == "all" else any(t in have for t in sub.tags)
            if not found:
                return False
        if self._keywords and not self._keywords.search(f"{article.title or ''}\n{article.text}"):
            return False
        return not sub.feeds or feed_url in sub.feeds


def make_alert_hook(settings: Settings) -> ArticleHook:
    """A ``Store.article_hooks`` hook: each new article matching a subscription whose story was not alerted to
    it yet is recorded for it; immediate subscriptions get an outbox alert in the same transaction."""
    matchers = [Matcher(s) for s in check_subscriptions(settings)]

    def hook(session: Session, article: Article) -> None:
        if not matchers or article.source == "seed":
            return
        story = article.story_id or article.id
        feed = session.get(Feed, article.feed_id) if article.feed_id is not None else None
        hits = [m.subscription for m in matchers if m.matches(article, feed.url if feed else None)]
        if not hits:
            return
        # Read before adding: a conflicting insert by another process then fails at commit, which the store
        # retries (and the retry sees the story as alerted).
        done = set(
            session.exec(
                select(AlertStory.subscription).where(
                    AlertStory.story_id == story, col(AlertStory.subscription).in_([s.name for s in hits])
                )
            )
        )
        new = [sub for sub in hits if sub.name not in done]
        alerts = {s.name: new_alert(settings, s, "immediate", [article.id]) for s in new if s.mode == "immediate"}
        session.add_all(alerts.values())
        session.flush()
        session.add_all(
            AlertStory(
                subscription=sub.name, story_id=story, article_id=article.id,
                alert_id=alerts[sub.name].id if sub.name in alerts else None,
            )
            for sub in new
        )

    return hook


def new_alert(settings: Settings, sub: Subscription, kind: str, article_ids: Sequence[str]) -> Alert:
    return Alert(
        subscription=sub.name, kind=kind, article_ids=list(article_ids), recipients=list(sub.recipients),
        message_id=message_id(settings, sub.name, article_ids),
    )
