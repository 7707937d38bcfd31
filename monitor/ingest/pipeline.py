"""The ingestion pipeline, top to bottom: fetch feed → parse → new entries → fetch page → process → store.

Feed state (validators, schedule) is stored only after every entry of the poll has been stored, so a
crash at any point makes the next poll see the unstored entries as new again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC
from functools import partial
from typing import Any, Generic, TypeVar

from monitor.core import metrics
from monitor.core.config import Settings
from monitor.core.errors import DatabaseError, MonitorError
from monitor.dedup.exact import canonical_url, http_url
from monitor.ingest.feedparse import FeedEntry, FeedParseError, parse_feed
from monitor.ingest.fetcher import FEED_ACCEPT, Fetcher, FetchError, Gone
from monitor.ingest.processor import Candidate, Options, Processed, analysis_rows, process
from monitor.ingest.robots import Robots
from monitor.store import NewArticle, PollRecord, SaveResult, Sighting, Store, page_key, storage_fault
from monitor.store.instance import instance_id
from monitor.store.models import Article, Feed, utcnow

log = logging.getLogger(__name__)
PAGE_CLAIM_RETRY = 0.5  # seconds between asks for a page another instance is fetching
T = TypeVar("T")
R = TypeVar("R")


class FeedBusyError(MonitorError):
    """A feed asked for by name is being polled by another instance."""


class StorageFault(DatabaseError):
    """The database failed during a cycle (a full disk, an I/O error, a lost connection): the cycle stopped, the
    polls it had not finished left no trace on their feeds' schedules."""

    def __init__(self, reason: str):
        super().__init__(
            f"storage failed: {reason}; the polling cycle stopped, feeds' schedules are untouched and their polls "
            "are done again once the database works"
        )
        self.reason = reason


class GroupCommit(Generic[T, R]):
    """Writes that arrive while the previous batch is being written are written together, in one call of
    ``write`` (one transaction): per-item commits would make the database writer the pipeline's bottleneck.
    ``write`` returns one result or exception per item."""

    def __init__(self, write: Callable[[list[T]], Awaitable[list[R | Exception]]]):
        self._write = write
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._writer: asyncio.Future[None] | None = None

    async def __call__(self, item: T) -> R:
        done: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write_pending())
        return await done

    async def _write_pending(self) -> None:
        await asyncio.sleep(0)  # let the writes arriving in this loop iteration join the first batch
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                results = await self._write([item for item, _ in batch])
            except Exception as exc:  # handed to every waiter: none is left hanging
                results = [exc] * len(batch)
            for (_, done), result in zip(batch, results, strict=True):
                if done.cancelled():  # its poll was cancelled (shutdown): the write stands, nobody waits
                    continue
                if isinstance(result, Exception):
                    done.set_exception(result)
                else:
                    done.set_result(result)


def together_or_each(write: Callable[[list[T]], list[R]], items: list[T]) -> list[R | Exception]:
    """``write(items)`` in one transaction; when that fails, each item alone, so one bad item fails only
    itself (its exception is its result)."""
    try:
        return list(write(items))
    except Exception as exc:
        if len(items) == 1 or storage_fault(exc):  # a full disk fails each item alone as well
            raise
    results: list[R | Exception] = []
    for item in items:
        try:
            results.append(write([item])[0])
        except Exception as exc:
            results.append(exc)
    return results


@dataclass
class CycleSummary:
    """What one polling cycle did."""

    feeds: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    entries: Counter[str] = field(default_factory=Counter)  # new, duplicate, seen, empty
    errors: list[tuple[str, str]] = field(default_factory=list)  # feed URL, error
    seconds: float = 0.0

    def unreachable(self) -> str | None:
        """Why the network looks unreachable, when every feed polled failed to resolve or connect (None
        otherwise): not the feeds' fault, and worth saying once rather than as N feed errors."""
        if not self.feeds or len(self.errors) < self.feeds or not all(e.startswith("connect:") for _, e in self.errors):
            return None
        return (f"every feed polled ({self.feeds}) failed to resolve or connect, e.g. {self.errors[0][1][9:]!r}: "
                "check this machine's network, DNS or proxy (http.proxy)")

    def as_dict(self) -> dict[str, Any]:
        return {
            "feeds": self.feeds,
            "network_unreachable": self.unreachable() is not None,
            "outcomes": dict(self.outcomes),
            "articles_new": self.entries["new"],
            "articles_duplicate": self.entries["duplicate"],
            "entries_seen": self.entries["seen"],
            "entries_empty": self.entries["empty"],
            "errors": [{"feed": url, "error": error} for url, error in self.errors],
            "seconds": round(self.seconds, 3),
        }


class Pipeline:
    """Polls feeds and ingests their new entries. Database calls run on one writer thread, feed parsing and
    extraction in ``workers`` (a process pool), so the event loop only does I/O."""

    def __init__(self, settings: Settings, store: Store, fetcher: Fetcher, workers: Executor):
        self.settings = settings
        self.store = store
        self.fetcher = fetcher
        self.workers = workers
        self.instance = instance_id(settings)
        self._db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="monitor-db")
        self._article_slots = asyncio.Semaphore(settings.poll.max_concurrent_articles)
        self._in_flight: dict[str, asyncio.Future[str | None]] = {}  # URL → stored article id
        self._sightings_to_record: list[tuple[str, Sighting]] = []
        self._options = Options.from_settings(settings)
        self.robots = Robots(fetcher, settings.http.user_agent)
        self._record_poll = GroupCommit(self._write_polls)
        self._save_article = GroupCommit(self._write_articles)
        self._claim_page = GroupCommit(self._write_page_claims)  # instances sharing the database (PostgreSQL)
        self._release_page = GroupCommit(self._write_page_releases)
        self._claims_left = False  # a cycle stopped by a storage fault could not release its claims

    def close(self) -> None:
        """Wait for the database write in progress (if any), so nothing is half-stored; then release this
        instance's claims on feeds it did not finish (others may poll them at once)."""
        self._db_thread.shutdown(wait=True)
        try:
            self.store.release_leases(self.instance)
            if self.store.shared:
                self.store.release_claims(self.instance)
        except Exception as exc:  # they expire on their own
            if (reason := storage_fault(exc)) is None:
                log.exception("feed claims not released; they expire after poll.lease seconds")
            else:
                log.warning("feed claims not released (%s); they expire after poll.lease seconds", reason)

    async def _db(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._db_thread, partial(fn, *args))

    async def _write_polls(self, records: list[PollRecord]) -> list[Feed | Exception | None]:
        """Store polls' outcomes (the feed's new state; None for a feed removed meanwhile); sightings waiting to be
        recorded first: a feed's state is stored only after every place it saw was."""
        sightings, self._sightings_to_record = self._sightings_to_record, []
        try:
            await self._db(self.store.add_sightings, sightings)
        except Exception as exc:
            if storage_fault(exc) is None:  # a storage fault stops the cycle, which says so
                log.exception("sightings not stored; their feeds will be polled again")
            return [exc] * len(records)
        write = partial(self.store.record_polls, settings=self.settings.poll)
        feeds: list[Feed | Exception | None] = await self._db(together_or_each, write, records)
        return feeds

    async def _write_articles(self, items: list[NewArticle]) -> list[SaveResult | Exception]:
        return await self._db(together_or_each, self.store.save_articles, items)

    async def _write_page_claims(self, keys: list[str]) -> list[bool | Exception]:
        held = await self._db(self.store.claim_pages, self.instance, keys, self.settings.poll.lease)
        return [key in held for key in keys]

    async def _write_page_releases(self, keys: list[str]) -> list[Exception | None]:
        await self._db(self.store.release_pages, self.instance, keys)
        return [None] * len(keys)

    async def run_cycle(self, feed_id: int | None = None, force: bool = False) -> CycleSummary:
        """Poll every feed that is due now (``feed_id``: that feed alone if due; ``force``: due or not, with its
        back-off reset).

        Feeds are claimed as poll slots free up, not all at the start: instances sharing the database divide
        the due feeds between them. Claims are renewed while their polls run and released with the feeds' new
        state; the claims of an instance that dies expire after ``poll.lease`` seconds.

        A storage fault (``storage_fault``: a full disk, an I/O error, a lost connection) is not the feeds'
        fault: it stops the cycle at once (the polls running are cancelled, as at shutdown), the feeds not
        finished keep their schedule — no error counted, no back-off — and their claims are released, so the
        next cycle polls them again; StorageFault says why."""
        try:
            if self._claims_left:  # the previous cycle stopped on a storage fault and could not release them
                await self._release_claims()
                self._claims_left = False
            return await self._run_cycle(feed_id, force)
        except Exception as exc:
            reason = storage_fault(exc)
            if reason is None:
                raise
            try:
                await self._release_claims()
            except Exception:  # the storage is still failing: the next cycle releases them first
                self._claims_left = True
            else:
                self._claims_left = False
            raise StorageFault(reason) from None

    async def _release_claims(self) -> None:
        """Give up this instance's claims on feeds and, when instances share the database, on pages and host
        slots: those of a cycle a storage fault stopped (the slots its requests could not give back while the
        database was away would otherwise hold their hosts until they lapse)."""
        await self._db(self.store.release_leases, self.instance)
        if self.store.shared:
            await self._db(self.store.release_claims, self.instance)

    async def _run_cycle(self, feed_id: int | None, force: bool) -> CycleSummary:
        started = time.perf_counter()
        summary = CycleSummary()
        poll_settings = self.settings.poll
        running: dict[asyncio.Task[tuple[PollRecord, Counter[str]]], Feed] = {}
        failures: list[BaseException] = []
        more = True
        renewing = asyncio.create_task(self._renew_leases(running))
        try:
            while more or running:
                free = poll_settings.max_concurrent_feeds - len(running)
                if more and free and not failures:
                    try:
                        feeds = await self._claim(feed_id, free, force)
                    except Exception as exc:  # no new claims; the polls running end first
                        failures.append(exc)
                        feeds = []
                    more = feed_id is None and len(feeds) == free
                    summary.feeds += len(feeds)
                    for feed in feeds:
                        running[asyncio.create_task(self.poll_feed(feed))] = feed
                if not running or any(storage_fault(f) for f in failures):  # a storage fault stops them at once
                    break
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    feed = running.pop(task)
                    if task.exception() is not None:  # no new claims, let the rest end (unless a storage fault)
                        failures.append(task.exception())  # type: ignore[arg-type]
                        continue
                    record, entries = task.result()
                    summary.outcomes[record.outcome] += 1
                    summary.entries.update(entries)
                    if record.error:
                        summary.errors.append((feed.url, record.error))
        finally:
            renewing.cancel()
            for task in running:  # cancelled (shutdown, a storage fault): their feeds' claims are released
                task.cancel()
            await asyncio.gather(renewing, *running, return_exceptions=True)
        metrics.FEEDS_DUE.set(summary.feeds)
        if failures:
            raise next((f for f in failures if storage_fault(f)), failures[0])
        summary.seconds = time.perf_counter() - started
        await self._db(self.store.set_state, "last_poll", utcnow().isoformat())
        metrics.FEEDS_SILENT.set(len(await self._db(self.store.silent_feeds, poll_settings)))
        return summary

    async def _claim(self, feed_id: int | None, limit: int, force: bool) -> list[Feed]:
        lease = self.settings.poll.lease
        if feed_id is None:
            feeds: list[Feed] = await self._db(self.store.claim_due_feeds, self.instance, lease, limit)
            return feeds
        feed: Feed | None = await self._db(self.store.claim_feed, feed_id, self.instance, lease, force)
        if feed is None and force:
            raise FeedBusyError(f"feed {feed_id} is being polled by another instance right now; try again")
        return [feed] if feed else []

    async def _renew_leases(self, running: dict[asyncio.Task[Any], Feed]) -> None:
        """Every third of the lease, extend the claims on the feeds still being polled (and, when instances share
        the database, on the pages being fetched and the host slots of the requests running)."""
        lease = self.settings.poll.lease
        while True:
            await asyncio.sleep(lease / 3)
            ids = [feed.id for feed in running.values() if feed.id is not None]
            try:
                await self._db(self.store.renew_leases, self.instance, ids, lease)
                if self.store.shared:
                    await self._db(self.store.renew_claims, self.instance, lease)
            except Exception as exc:  # the next renewal may work; a claim lost is only a feed polled twice
                if storage_fault(exc) is None:  # a storage fault stops the cycle, which says so
                    log.exception("feed claims not renewed")

    async def poll_feed(self, feed: Feed) -> tuple[PollRecord, Counter[str]]:
        """Fetch, parse and ingest one feed, then store its new state."""
        assert feed.id is not None
        started_at, clock = utcnow(), time.perf_counter()
        record = PollRecord(feed_id=feed.id, started_at=started_at, outcome="ok")
        entries: Counter[str] = Counter()
        try:
            result = await self.fetcher.fetch(
                feed.url, etag=feed.etag, last_modified=feed.last_modified, accept=FEED_ACCEPT
            )
        except FetchError as exc:
            record.outcome = "gone" if isinstance(exc, Gone) else "error"
            record.status_code, record.retry_after = exc.status, exc.retry_after
            record.error = f"{exc.kind}: {exc}"
        else:
            record.status_code, record.bytes = result.status, len(result.content)
            record.etag, record.last_modified, record.moved_to = result.etag, result.last_modified, result.moved_to
            record.stated_interval = result.fresh_for
            record.body_hash = hashlib.sha256(result.content).hexdigest() if result.content else None
            if result.not_modified:
                record.outcome = "not_modified"
            elif not result.content.strip():  # else "no body" would match "no body seen yet": unchanged forever
                record.outcome, record.error = "error", f"empty: HTTP {result.status} with an empty body"
            elif record.body_hash == feed.body_hash:
                record.outcome = "unchanged"
            else:
                try:
                    entries = await self._ingest_document(feed, result.content, result.url, result.content_type, record)
                except Exception as exc:  # a bug or a hostile document must not stop the other feeds
                    if storage_fault(exc):  # the database's fault, not the feed's: the cycle stops
                        raise
                    log.exception("feed ingestion failed", extra={"feed_id": feed.id, "feed_url": feed.url})
                    record.outcome, record.error = "error", f"internal: {type(exc).__name__}: {exc}"
        record.duration_ms = int((time.perf_counter() - clock) * 1000)
        record.new_articles = entries["new"]
        stored = await self._record_poll(record)
        if stored is None:
            log.info("feed removed while polling", extra={"feed_id": feed.id, "feed_url": feed.url})
        self._log_poll(feed, record, entries, stored)
        return record, entries

    async def _ingest_document(
        self, feed: Feed, content: bytes, url: str, content_type: str | None, record: PollRecord
    ) -> Counter[str]:
        loop = asyncio.get_running_loop()
        try:  # in a worker process: feedparser costs milliseconds per document, the event loop has other work
            parsed = await loop.run_in_executor(self.workers, parse_feed, content, url, content_type)
        except FeedParseError as exc:
            record.outcome, record.error = "error", f"parse: {exc}"
            return Counter()
        if parsed.bozo:
            log.info("malformed feed read anyway", extra={"feed_id": feed.id, "reason": parsed.bozo})
        record.entries, record.title, record.site_url = len(parsed.entries), parsed.title, parsed.site_url
        stated = [x for x in (record.stated_interval, parsed.stated_interval) if x is not None]
        record.stated_interval = max(stated, default=None)
        sightings = [self._sighting(feed, entry) for entry in parsed.entries]
        known = await self._db(self.store.record_seen, sightings)  # one query for the whole document
        fresh = [(e, x) for e, x, k in zip(parsed.entries, sightings, known, strict=True) if k is None]
        record.new_entries = len(fresh)
        tasks = [asyncio.ensure_future(self._ingest_entry(feed, entry, sighting)) for entry, sighting in fresh]
        try:
            outcomes = await asyncio.gather(*tasks)
        except BaseException:  # one entry failed (say, the database): the others end before the poll does
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return Counter(outcomes) + Counter(seen=len(sightings) - len(fresh))

    @staticmethod
    def _sighting(feed: Feed, entry: FeedEntry) -> Sighting:
        link = entry.link  # http(s) only (feedparse drops the others)
        return Sighting(
            feed_id=feed.id,
            url=link or http_url(entry.guid) or feed.url,
            canonical_url=canonical_url(link) if link else None,
            guid=entry.guid,
        )

    async def _ingest_entry(self, feed: Feed, entry: FeedEntry, sighting: Sighting) -> str:
        """Store one entry unless it was seen before; returns new, duplicate, seen or empty."""
        # The same URL arriving from two feeds in one cycle is fetched once: the second waits for the first
        # and records where it saw the article along with the feed states (see _record_pending_polls).
        key = sighting.canonical_url
        while key is not None and key in self._in_flight:
            known = await asyncio.shield(self._in_flight[key])
            if known:
                self._sightings_to_record.append((known, sighting))
                return "seen"
        done: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        if key is not None:
            self._in_flight[key] = done
        article_id = None
        claim = page_key(key) if key is not None and self.store.shared else None
        try:
            if claim is not None and (article_id := await self._wait_for_page_claim(claim, sighting)):
                self._sightings_to_record.append((article_id, sighting))
                return "seen"
            outcome, article_id = await self._ingest_new(feed, entry, sighting)
            return outcome
        finally:
            # Whatever happens to the claim's release (a cancelled poll is cancelled again while awaiting it),
            # the polls waiting for this page must hear first: a future left pending would hang the next cycle.
            if key is not None:
                del self._in_flight[key]
            done.set_result(article_id)
            if claim is not None:
                await self._give_up_page_claim(claim)

    async def _wait_for_page_claim(self, claim: str, sighting: Sighting) -> str | None:
        """Claim the entry's page for this instance: instances sharing the database fetch each page once. While
        another instance holds it, wait; then the id of the article stored meanwhile (by the other, or by one
        that released its claim between this poll's look at the known entries and now), or None: the page is
        this instance's to fetch (nobody stored it: the other failed, or died and its claim expired)."""
        waited = False
        while not await self._claim_page(claim):
            if not waited:
                log.info("another instance is fetching the page; waiting for it", extra={"url": sighting.url})
            waited = True
            await asyncio.sleep(PAGE_CLAIM_RETRY)
        known: str | None = await self._db(self.store.find_seen, sighting)
        return known

    async def _give_up_page_claim(self, claim: str) -> None:
        try:
            await self._release_page(claim)
        except Exception as exc:  # it expires after poll.lease seconds
            if storage_fault(exc) is None:
                log.warning("page claim not released (%s); it expires after poll.lease seconds", exc)
            # (a storage fault stops the cycle, which says so once; the next cycle releases what is left)

    async def _ingest_new(self, feed: Feed, entry: FeedEntry, sighting: Sighting) -> tuple[str, str | None]:
        """Fetch, process and store a new entry; returns the outcome and the article id it is stored under.
        The slot is held until the article is stored: a slow database must hold back fetching, not let
        processed articles pile up in memory."""
        async with self._article_slots:
            with metrics.ARTICLES_IN_PROGRESS.track_inprogress():
                candidate = await self._fetch_page(feed, entry)
                loop = asyncio.get_running_loop()
                processed: Processed | None = await loop.run_in_executor(
                    self.workers, process, candidate, self._options
                )
                return await self._store(feed, entry, sighting, processed)

    async def _store(
        self, feed: Feed, entry: FeedEntry, sighting: Sighting, processed: Processed | None
    ) -> tuple[str, str | None]:
        if processed is None:
            return "empty", None
        if processed.canonical_url and processed.canonical_url != sighting.canonical_url:
            known = await self._db(self.store.find_seen, Sighting(feed.id, "", processed.canonical_url, None))
            if known:
                await self._db(self.store.add_sighting, known, sighting)
                return "seen", known
        article = self._article(feed, entry, sighting, processed)
        tags, statements = analysis_rows(article, processed.analysis)
        saved = await self._save_article(NewArticle(article, sighting, tags, statements))
        if saved.created:
            for tag in article.tags:
                metrics.TAGS_GIVEN.labels(tag).inc()
        extra = {"feed_id": feed.id, "article_id": saved.article_id, "url": sighting.url}
        log.debug("article stored" if saved.created else "duplicate article", extra=extra)
        return ("new" if saved.created else "duplicate"), saved.article_id

    async def _fetch_page(self, feed: Feed, entry: FeedEntry) -> Candidate:
        if not entry.link or not entry.link.startswith(("http://", "https://")):
            return Candidate(entry=entry)
        refusal = None if feed.ignore_robots else await self.robots.refusal(entry.link)
        if refusal is not None:
            log.info("page not fetched (%s), using the feed's content", refusal,
                     extra={"feed_id": feed.id, "url": entry.link})
            return Candidate(entry=entry, withheld=refusal)
        try:
            page = await self.fetcher.fetch(entry.link)
        except FetchError as exc:
            metrics.FETCH_ERRORS.labels("page", exc.kind).inc()
            log.info(
                "page not fetched, using the feed's content",
                extra={"feed_id": feed.id, "url": entry.link, "error": f"{exc.kind}: {exc}"},
            )
            return Candidate(entry=entry)
        return Candidate(entry=entry, page_url=page.url, html=page.content, content_type=page.content_type)

    @staticmethod
    def _article(feed: Feed, entry: FeedEntry, sighting: Sighting, processed: Processed) -> Article:
        return Article(
            id=processed.id,
            content_hash=processed.id,
            canonical_url=processed.canonical_url or sighting.canonical_url,
            url=entry.link,
            guid=entry.guid,
            feed_id=feed.id,
            title=processed.title,
            authors=processed.authors,
            published=processed.published,
            language=processed.language,
            site_name=processed.site_name,
            text=processed.text,
            source=processed.source,
            extraction_method=processed.extraction_method,
            tags=[t.tag for t in processed.analysis.tags],
            minhash=processed.analysis.minhash,
        )

    @staticmethod
    def _log_poll(feed: Feed, record: PollRecord, entries: Counter[str], stored: Feed | None) -> None:
        """Metrics and a log line; a failure says when the feed is tried again (after the back-off)."""
        metrics.FEED_POLLS.labels(record.outcome).inc()
        metrics.POLL_SECONDS.observe(record.duration_ms / 1000)
        for result, n in entries.items():
            metrics.ENTRIES.labels(result).inc(n)
        if record.error:
            metrics.FETCH_ERRORS.labels("feed", record.error.split(":", 1)[0]).inc()
        extra = {
            "feed_id": feed.id, "feed_url": feed.url, "outcome": record.outcome, "status": record.status_code,
            "ms": record.duration_ms, "new": entries["new"], "duplicates": entries["duplicate"],
        }
        if record.error and stored is not None and not stored.enabled:
            log.warning("feed poll failed: %s; feed disabled: %s", record.error, stored.disabled_reason, extra=extra)
        elif record.error:
            retry = stored.next_poll_at if stored is not None else None
            when = f"{retry.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if retry else "unknown"
            extra["next_attempt"] = retry.astimezone(UTC).isoformat(timespec="seconds") if retry else None
            log.warning("feed poll failed: %s; next attempt at %s", record.error, when, extra=extra)
        else:
            log.info("feed polled", extra=extra)
