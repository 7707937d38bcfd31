"""Alert messages per medium, from Jinja2 templates (packaged, overridable from a directory): mails (multipart
text + HTML), short chat texts (headline, source, time, statements, link), and the JSON of webhooks."""

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
from monitor.store.readmodels import iso, quoted, statement_json

MAX_SUBJECT = 160
EXTRACT_CHARS = 400
EVIDENCE_SHOWN = 6
UNTAGGED = "(no tag)"
TEST = "test"  # the kind of a test message (`monitor alerts test`)


# The end of a sentence: its mark (and a closing quotation mark) before a space, or a line break.
_SENTENCE_END = re.compile(r"[.!?][\"\u201d\u2019']?\s+|\n+")


@dataclass(frozen=True)
class Reasons:
    """A tag's evidence as a reader would write it: the words that made it, a sentence showing them, and what
    counted against it (the model's weights and features stay out of a mail; the monitor's page has them)."""

    terms: tuple[str, ...] = ()
    sentences: tuple[str, ...] = ()
    against: tuple[str, ...] = ()


def reasons(tag: ArticleTag, title: str, text: str, shown: int = 2) -> Reasons:
    """Reasons of one tag from its evidence: the distinct words matched (title first), up to ``shown`` sentences
    of the text that hold them, and the exclusions."""
    terms: list[str] = []
    spans: list[tuple[int, int]] = []
    against: list[str] = []
    for e in tag.evidence:
        start, end, field_ = e.get("start"), e.get("end"), e.get("field", "text")
        if start is None or end is None:
            continue
        source = title if field_ == "title" else text
        words = one_line(source[start:end], 80)
        if e.get("kind") == "exclusion":
            against.append(words)
        elif e.get("kind") == "term":
            if words.lower() not in (w.lower() for w in terms):
                terms.append(words)
            if field_ == "text":
                spans.append((start, end))
    sentences: list[str] = []
    for start, end in sorted(spans):
        left = max((m.end() for m in _SENTENCE_END.finditer(text, max(0, start - 600), start)), default=0)
        after = _SENTENCE_END.search(text, end)
        sentence = one_line(text[left:after.start() if after else len(text)].strip(), 240)
        if sentence and sentence not in sentences:
            sentences.append(sentence)
        if len(sentences) == shown:
            break
    return Reasons(tuple(terms[:8]), tuple(sentences), tuple(dict.fromkeys(against)))


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
    story_id: str = ""
    date: datetime | None = None  # the publication date (None: undated; ``published`` is then the fetch time)
    page: str | None = None  # the article's page in the monitor's interface (when web.base_url is set)
    reasons: dict[str, Reasons] = field(default_factory=dict)  # per tag, as a reader would write them

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


def load_articles(loaded: AlertArticles, article_ids: Sequence[str], base_url: str = "") -> list[ArticleView]:
    """The alerted articles (in the given order) with their tags, statements, feed and page under ``base_url``."""
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
                story_id=a.story_id or a.id, date=a.published, page=f"{base_url}/articles/{a.id}" if base_url else None,
                reasons={tag.tag: reasons(tag, a.title or "", a.text) for tag in tags.get(a.id, [])},
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

    def context(self, alert: Alert, articles: Sequence[ArticleView]) -> dict[str, Any]:
        """What the templates of an outbox alert see (immediate: one article; digest: grouped by tag; test:
        none), with its ``subject``."""
        if alert.kind == TEST:
            subject = "monitor: test message"
            context: dict[str, Any] = {"now": utcnow()}
        elif alert.kind == "digest":
            groups = by_tag(articles)
            count = f"{len(articles)} {'story' if len(articles) == 1 else 'stories'}"
            subject = f"[{', '.join(tag for tag, _ in groups)}] {alert.subscription} digest: {count}"
            context = {"groups": groups, "count": len(articles)}
        else:
            subject = f"[{', '.join(articles[0].tag_names or [alert.subscription])}] {articles[0].title}"
            context = {"article": articles[0]}
        return context | {"subscription": alert.subscription, "subject": one_line(subject, MAX_SUBJECT)}

    def alert(self, alert: Alert, articles: Sequence[ArticleView]) -> EmailMessage:
        """The mail of an outbox alert."""
        context = self.context(alert, articles)
        return self.message(alert.kind, context["subject"], alert.recipients, alert.message_id, context)

    def chat(self, alert: Alert, articles: Sequence[ArticleView]) -> tuple[str, str]:
        """The title and short plain text of an alert for a chat (``<kind>.chat.j2``)."""
        context = self.context(alert, articles)
        return context["subject"], self.env.get_template(f"{alert.kind}.chat.j2").render(context).strip()

    def payload(self, alert: Alert, articles: Sequence[ArticleView]) -> dict[str, Any]:
        """The JSON of an alert for a webhook: every article with its tags (scores, evidence) and statements
        (speaker, role, kind, text and date), its story and its links."""
        return {
            "version": 1, "event": "test" if alert.kind == TEST else "alert", "id": alert.message_id.strip("<>"),
            "subscription": alert.subscription, "target": alert.target, "kind": alert.kind,
            "title": self.context(alert, articles)["subject"], "sent_at": iso(utcnow()),
            "articles": [article_json(a, self.settings.web.base_url) for a in articles],
        }

    def message(
        self, template: str, subject: str, recipients: Sequence[str], message_id: str, context: dict[str, Any]
    ) -> EmailMessage:
        msg = headers(self.settings, subject, recipients, message_id)
        if template == TEST:
            msg.set_content(f"This is a test mail from monitor, sent {context['now']:%Y-%m-%d %H:%M:%S} UTC.\n")
            return msg
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


def article_json(a: ArticleView, base_url: str) -> dict[str, Any]:
    return {
        "id": a.id, "title": a.title, "url": a.url, "page": a.page, "source": a.source, "published": iso(a.date),
        "extract": a.extract, "story_id": a.story_id,
        "story_page": f"{base_url}/stories/{a.story_id}" if base_url else None,
        "tags": [{"tag": t.tag, "score": t.score, "evidence": t.evidence} for t in a.tags],
        "statements": [statement_json(st) | {"date": iso(a.date)} for st in a.statements],
    }
