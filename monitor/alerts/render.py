"""Alert emails: multipart text + HTML from Jinja2 templates (packaged, overridable from a directory)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

import jinja2

from monitor.core.config import Settings
from monitor.store.alerts import AlertArticles
from monitor.store.models import Alert, ArticleTag, Statement, utcnow
from monitor.store.readmodels import quoted

MAX_SUBJECT = 160
EXTRACT_CHARS = 400
EVIDENCE_SHOWN = 6
UNTAGGED = "(no tag)"


@dataclass
class ArticleView:
    """What the templates show of one article."""

    id: str
    title: str
    url: str | None
    source: str
    published: datetime
    extract: str
    tags: list[ArticleTag] = field(default_factory=list)  # strongest first
    statements: list[Statement] = field(default_factory=list)

    @property
    def tag_names(self) -> list[str]:
        return [t.tag for t in self.tags]


def one_line(text: str, limit: int) -> str:
    """Control characters (CR/LF included) as spaces, whitespace collapsed, cut at ``limit`` characters."""
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def extract(text: str, limit: int = EXTRACT_CHARS) -> str:
    """The start of the text, cut at a word boundary."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return re.sub(r"\s+\S*$", "", flat[:limit]) + " …"


def load_articles(loaded: AlertArticles, article_ids: Sequence[str]) -> list[ArticleView]:
    """The alerted articles (in the given order) with their tags, statements and feed."""
    articles, tags, statements, feeds = loaded.articles, loaded.tags, loaded.statements, loaded.feeds
    views = []
    for article_id in article_ids:
        a = articles.get(article_id)
        if a is None:  # deleted since it was alerted
            continue
        feed = feeds.get(a.feed_id)
        source = a.site_name or (feed.title if feed else None) or urlsplit(a.url or a.canonical_url or "").hostname
        views.append(
            ArticleView(
                id=a.id, title=one_line(a.title or "(untitled)", 500), url=a.url or a.canonical_url,
                source=source or "unknown source", published=a.published or a.fetched_at, extract=extract(a.text),
                tags=sorted(tags.get(a.id, []), key=lambda t: -t.score), statements=statements.get(a.id, []),
            )
        )
    return views


def by_tag(articles: Sequence[ArticleView]) -> list[tuple[str, list[ArticleView]]]:
    """Articles grouped under their strongest tag (groups by name), newest first within a group."""
    groups: dict[str, list[ArticleView]] = {}
    for a in articles:
        groups.setdefault(a.tag_names[0] if a.tags else UNTAGGED, []).append(a)
    return [(tag, sorted(groups[tag], key=lambda a: a.published, reverse=True)) for tag in sorted(groups)]


class Renderer:
    """Builds the alert messages; templates in ``alerts.templates`` override the packaged ones by name."""

    def __init__(self, settings: Settings):
        self.settings = settings
        loaders: list[jinja2.BaseLoader] = [jinja2.PackageLoader("monitor.alerts", "templates")]
        custom = settings.resolve(settings.alerts.templates)
        if custom is not None:
            loaders.insert(0, jinja2.FileSystemLoader(custom))
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            undefined=jinja2.ChainableUndefined,
        )
        self.env.globals["quoted"] = quoted
        self.env.globals["evidence_shown"] = EVIDENCE_SHOWN

    def alert(self, alert: Alert, articles: Sequence[ArticleView]) -> EmailMessage:
        """The message for an outbox alert (immediate: one article; digest: grouped by tag)."""
        if alert.kind == "digest":
            groups = by_tag(articles)
            count = f"{len(articles)} {'story' if len(articles) == 1 else 'stories'}"
            subject = f"[{', '.join(tag for tag, _ in groups)}] {alert.subscription} digest: {count}"
            context: dict[str, Any] = {"groups": groups, "count": len(articles)}
        else:
            subject = f"[{', '.join(articles[0].tag_names or [alert.subscription])}] {articles[0].title}"
            context = {"article": articles[0]}
        context |= {"subscription": alert.subscription, "subject": subject}
        return self.message(alert.kind, subject, alert.recipients, alert.message_id, context)

    def message(
        self, template: str, subject: str, recipients: Sequence[str], message_id: str, context: dict[str, Any]
    ) -> EmailMessage:
        msg = headers(self.settings, subject, recipients, message_id)
        msg.set_content(self.env.get_template(f"{template}.txt.j2").render(context))
        msg.add_alternative(self.env.get_template(f"{template}.html.j2").render(context), subtype="html")
        return msg


def headers(settings: Settings, subject: str, recipients: Sequence[str], message_id: str) -> EmailMessage:
    """A message with its headers; the subject cannot carry line breaks (no header injection)."""
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = one_line(subject, MAX_SUBJECT)
    msg["From"] = settings.smtp.from_addr
    msg["To"] = ", ".join(recipients)
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    return msg
