"""robots.txt for article pages (RFC 9309): read once per origin through the fetcher (SSRF guard, size limit),
parsed by Protego, cached by the response's HTTP caching rules, its ``Crawl-delay`` applied to the host's gap.

Feeds are not subject to it: a feed the operator added is polled as configured."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from protego import Protego

from monitor.ingest.fetcher import Fetcher, FetchError, HttpStatus

log = logging.getLogger(__name__)

DEFAULT_TTL = 86400.0  # RFC 9309 2.4: a robots.txt without caching headers is kept for a day
RETRY_AFTER_FAILURE = 600.0  # a 5xx or unreachable robots.txt: disallow all, ask again after this
MAX_CRAWL_DELAY = 60.0  # a larger Crawl-delay is capped: one host must not stall the article slots for long
ROBOTS_ACCEPT = "text/plain, */*;q=0.5"
# Article.extraction_method of an article stored from the feed's text because of robots.txt
DISALLOWED = "robots.txt disallows"
UNREACHABLE = "robots.txt unreachable"  # a 5xx or unreachable robots.txt disallows all for a while


@dataclass(frozen=True)
class _Rules:
    parser: Protego | None  # None: no rules (a 4xx robots.txt)
    expires: float  # monotonic clock
    failed: bool = False  # the robots.txt could not be read: everything is disallowed until ``expires``

    def refusal(self, url: str, agent: str) -> str | None:
        if self.failed:
            return UNREACHABLE
        return None if self.parser is None or self.parser.can_fetch(url, agent) else DISALLOWED

    def crawl_delay(self, agent: str) -> float | None:
        if self.parser is None or self.failed:
            return None
        delay = self.parser.crawl_delay(agent)
        return min(float(delay), MAX_CRAWL_DELAY) if delay else None


class Robots:
    """robots.txt rules per origin (scheme, host, port), matched against ``http.user_agent``."""

    def __init__(self, fetcher: Fetcher, user_agent: str, clock: Callable[[], float] = time.monotonic):
        self._fetcher = fetcher
        self._agent = user_agent
        self._clock = clock
        self._rules: dict[str, _Rules] = {}
        self._loading: dict[str, asyncio.Future[_Rules]] = {}

    async def refusal(self, url: str) -> str | None:
        """Why ``url`` may not be fetched (DISALLOWED, UNREACHABLE), None when it may. Reads (or re-reads, once
        expired) the origin's robots.txt first and sets the host's gap to its Crawl-delay."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc.lower()}"
        rules = self._rules.get(origin)
        if rules is None or rules.expires <= self._clock():
            rules = await self._load(origin, rules)
        return rules.refusal(url, self._agent)

    async def _load(self, origin: str, previous: _Rules | None) -> _Rules:
        loading = self._loading.get(origin)
        if loading is not None:  # pages of the same host asking at once: one request
            return await asyncio.shield(loading)
        future: asyncio.Future[_Rules] = asyncio.get_running_loop().create_future()
        self._loading[origin] = future
        try:
            rules = await self._read(origin, previous)
            self._rules[origin] = rules
            self._fetcher.set_crawl_delay(origin, rules.crawl_delay(self._agent))
            future.set_result(rules)
            return rules
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            del self._loading[origin]

    async def _read(self, origin: str, previous: _Rules | None) -> _Rules:
        url = origin + "/robots.txt"
        try:
            result = await self._fetcher.fetch(url, accept=ROBOTS_ACCEPT)
        except HttpStatus as exc:
            if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                return _Rules(None, self._clock() + DEFAULT_TTL)  # unavailable: no rules, all allowed
            return self._failed(url, f"{exc.kind}: {exc}", previous)
        except FetchError as exc:
            return self._failed(url, f"{exc.kind}: {exc}", previous)
        text = result.content.decode("utf-8", errors="replace")
        try:
            parser = Protego.parse(text)
        except Exception as exc:  # Protego is lenient; a document it still chokes on is no rules at all
            log.info("robots.txt not parsed, read as allowing all", extra={"url": url, "error": repr(exc)})
            parser = None
        return _Rules(parser, self._clock() + (result.fresh_for or DEFAULT_TTL))

    def _failed(self, url: str, error: str, previous: _Rules | None) -> _Rules:
        """RFC 9309 2.3.1.4: an unreachable robots.txt disallows everything; a copy read before is used
        meanwhile (2.4 allows a stale copy while the file is unreachable)."""
        log.info("robots.txt unreachable: %s; pages of this site are not fetched for %gs", error,
                 RETRY_AFTER_FAILURE, extra={"url": url})
        expires = self._clock() + RETRY_AFTER_FAILURE
        if previous is not None and not previous.failed:
            return _Rules(previous.parser, expires)
        return _Rules(None, expires, failed=True)
