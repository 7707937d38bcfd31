"""What every request handler reads from: the store and its query modules, the settings; parameter parsing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import Request

from monitor.core.config import Settings
from monitor.core.errors import InvalidParameter
from monitor.core.when import parse_when
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
    defined_tags: frozenset[str]  # the tags the rules define: labels and filters name one of them

    @classmethod
    def open(cls, settings: Settings, store: Store) -> Web:
        from monitor.tagging.rules import defined_tags

        views = Views(store.engine)
        tags_file = settings.tagging_file("tags_file")
        defined = defined_tags(tags_file) if tags_file is not None else set()
        return cls(settings, store, views.search, views, frozenset(defined))

    def base_url(self) -> str:
        """The interface's absolute address: ``web.base_url``, else the address it is bound to."""
        web = self.settings.web
        host = f"[{web.host}]" if ":" in web.host else web.host
        return web.base_url or f"http://{host}:{web.port}"

    def known_tags(self) -> set[str]:
        """Defined tags, and any a stored article carries (from rules since changed)."""
        return set(self.defined_tags) | set(self.views.tag_names())

    def checked(self, wanted: ArticleFilter) -> ArticleFilter:
        """The filter, its tag, feed and story checked to exist (the CLI refuses the same): an unknown one is a
        400 that says so, not an empty list."""
        if wanted.tag and wanted.tag not in self.known_tags():
            raise InvalidParameter(f"tag: unknown tag {wanted.tag!r} (known: {', '.join(sorted(self.known_tags()))})")
        if wanted.feed_url and self.store.feed(wanted.feed_url) is None:
            raise InvalidParameter(f"feed: no feed {wanted.feed_url!r} (see /api/v1/feeds)")
        if wanted.story and not self.store.story_members([wanted.story])[wanted.story]:
            raise InvalidParameter(f"story: no story {wanted.story!r}")
        return wanted


def web(request: Request) -> Web:
    return request.app.state.web  # type: ignore[no-any-return]


def parse_date(value: str | None, name: str) -> datetime | None:
    """A date from a request, read as the CLI reads it (``monitor.core.when``: ISO 8601 or relative)."""
    return parse_when(value, name)


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
