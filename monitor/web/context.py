"""What every request handler reads from: the store and its query modules, the settings; parameter parsing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request

from monitor.core.config import Settings
from monitor.core.errors import InvalidParameter
from monitor.store import Store
from monitor.store.query import Node, parse_query
from monitor.store.search import ArticleFilter, ArticleSearch
from monitor.store.views import Views


@dataclass(frozen=True)
class Web:
    settings: Settings
    store: Store
    search: ArticleSearch
    views: Views

    @classmethod
    def open(cls, settings: Settings, store: Store) -> Web:
        views = Views(store.engine)
        return cls(settings, store, views.search, views)


def web(request: Request) -> Web:
    return request.app.state.web  # type: ignore[no-any-return]


def parse_date(value: str | None, name: str) -> datetime | None:
    """A date or ISO 8601 time from a request (UTC when no zone is given)."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidParameter(f"{name}: not a date: {value!r} (use YYYY-MM-DD or an ISO 8601 time)") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def query_of(q: str | None) -> Node | None:
    return parse_query(q) if q else None


SOURCES = ("page", "feed", "seed")


def article_filter(
    q: str | None = None,
    tag: str | None = None,
    feed: str | None = None,
    since: str | None = None,
    until: str | None = None,
    story: str | None = None,
    source: str | None = None,
) -> ArticleFilter:
    """The filters of an articles request, checked (a malformed value raises InvalidParameter)."""
    if source and source not in SOURCES:
        raise InvalidParameter(f"source: one of {', '.join(SOURCES)}, not {source!r}")
    return ArticleFilter(
        query=query_of(q), tag=tag or None, feed_url=feed or None, since=parse_date(since, "since"),
        until=parse_date(until, "until"), story=story or None, source=source or None,
    )
