"""The outbox: alerts recorded in the same transaction as the article that triggers them."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence

from monitor.core.alert_settings import EMAIL_TARGET, Subscription
from monitor.core.config import Settings
from monitor.core.errors import ConfigError
from monitor.store import ArticleHook
from monitor.store.alerts import Outbox
from monitor.store.models import Alert, Article


def check_subscriptions(settings: Settings) -> list[Subscription]:
    """The configured subscriptions; their names must be distinct (they key the outbox)."""
    names = [s.name for s in settings.subscriptions]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"duplicate subscription name(s): {', '.join(duplicates)}")
    return list(settings.subscriptions)


def message_id(
    settings: Settings, subscription: str, article_ids: Iterable[str], target: str = EMAIL_TARGET
) -> str:
    """A stable Message-ID for an alert's delivery to a target: a resend of it carries the same one (a webhook's
    Idempotency-Key is this without the angle brackets)."""
    key = f"{subscription}|{','.join(sorted(article_ids))}" + ("" if target == EMAIL_TARGET else f"|{target}")
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
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

    def hook(outbox: Outbox, article: Article) -> None:
        if not matchers or article.source == "seed":
            return
        story = article.story_id or article.id
        feed_url = outbox.feed_url(article)
        hits = [m.subscription for m in matchers if m.matches(article, feed_url)]
        if not hits:
            return
        done = outbox.alerted(story, [s.name for s in hits])
        new = [sub for sub in hits if sub.name not in done]
        alerts = {s.name: new_alerts(settings, s, "immediate", [article.id]) for s in new if s.mode == "immediate"}
        outbox.queue(story, article.id, [s.name for s in new], alerts)

    return hook


def new_alerts(settings: Settings, sub: Subscription, kind: str, article_ids: Sequence[str]) -> list[Alert]:
    """The outbox rows of one alert: one per target — the recipients' email, then each of the subscription's
    [[targets]] — each delivered, retried and marked on its own."""
    targets: list[tuple[str, str, list[str]]] = []
    if sub.recipients:
        targets.append((EMAIL_TARGET, "email", list(sub.recipients)))
    for name in sub.targets:
        target = settings.target(name)
        assert target is not None  # the settings check that subscriptions name known targets
        targets.append((name, target.kind, list(target.recipients)))
    return [
        Alert(
            subscription=sub.name, kind=kind, article_ids=list(article_ids), recipients=recipients, target=name,
            target_kind=target_kind, message_id=message_id(settings, sub.name, article_ids, name),
        )
        for name, target_kind, recipients in targets
    ]
