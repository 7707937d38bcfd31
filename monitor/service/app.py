"""Wiring: settings → database (migrated) → store → pipeline; first-start imports.

Opening the database loads only what reading it needs: the tagger, the pipeline, the HTTP client and the OPML
reader are imported by the functions that use them (``monitor articles list`` starts without them)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from monitor.alerts.outbox import make_alert_hook
from monitor.core.config import Settings
from monitor.core.errors import ConfigError
from monitor.store import Store
from monitor.store.engine import create_db_engine, migrate
from monitor.store.instance import instance_id

if TYPE_CHECKING:
    from monitor.ingest.opml import OpmlFeed
    from monitor.ingest.pipeline import Pipeline
    from monitor.ingest.processor import Options

log = logging.getLogger(__name__)
SEEDS_IMPORTED = "seeds_imported"
DEFAULT_FEEDS_IMPORTED = "default_feeds_imported"


@dataclass
class App:
    settings: Settings
    store: Store


def check_tagging(settings: Settings) -> Options:
    """The options the tagger runs with, once it has loaded them: refuse to go on when the tag rules, officials
    or model cannot be read, or a subscription names a tag they do not define (otherwise every feed would fail
    at every poll, or a subscription never match). For the commands that tag: loading the tagger takes a
    moment."""
    from monitor.ingest.processor import Options, tagger
    from monitor.tagging import TaggingConfigError

    options = Options.from_settings(settings)
    try:
        known = {rule.name for rule in tagger(options).rules}
    except TaggingConfigError as exc:
        raise ConfigError(f"tagging config: {exc}") from None
    for sub in settings.subscriptions:
        unknown = sorted(set(sub.tags) - known)
        if unknown:
            raise ConfigError(
                f"subscription {sub.name!r} names unknown tag(s) {', '.join(unknown)}; "
                f"the tags defined in {options.tags_file} are {', '.join(sorted(known))}"
            )
    return options


def open_app(settings: Settings) -> App:
    """Open (and migrate) the database; on first start import the packaged seed corpus (the tagging config is
    checked then: the seeds are tagged)."""
    engine = create_db_engine(settings.database_url)
    migrate(engine)
    store = Store(engine, settings.stories)
    store.article_hooks.append(make_alert_hook(settings))
    if settings.import_seeds and store.get_state(SEEDS_IMPORTED) is None:
        from monitor.ingest.seeds import import_corpus, packaged_seed_dir

        imported = import_corpus(store, packaged_seed_dir(), check_tagging(settings)).imported
        store.set_state(SEEDS_IMPORTED, str(imported))
        log.info("seed corpus imported", extra={"articles": imported})
    return App(settings, store)


def import_default_feeds(app: App) -> int:
    """On the service's first start with no feeds, import the configured default feed list."""
    from monitor.ingest.opml import read_opml

    path = app.settings.resolve(app.settings.default_feeds)
    store = app.store
    if path is None or store.get_state(DEFAULT_FEEDS_IMPORTED) is not None or store.feed_count():
        return 0
    feeds = read_opml(path).feeds
    add_feeds(app, feeds)
    store.set_state(DEFAULT_FEEDS_IMPORTED, str(path))
    log.info("default feeds imported", extra={"feeds": len(feeds), "file": str(path)})
    return len(feeds)


def add_feeds(app: App, feeds: list[OpmlFeed]) -> list[tuple[str, bool]]:
    """Add feeds, each URL checked first (http(s) only, an address the SSRF guard allows): one refused URL
    refuses them all (RefusedUrl), nothing is added. Returns each URL with whether it was new."""
    from monitor.ingest.fetcher import check_feed_url
    from monitor.ingest.opml import OpmlFeed

    checked = [OpmlFeed(check_feed_url(f.url, app.settings.http), f.title, f.site_url, f.folder) for f in feeds]
    return [(f.url, app.store.add_feed(f.url, f.title, f.site_url, f.folder)[1]) for f in checked]


@asynccontextmanager
async def open_pipeline(app: App) -> AsyncIterator[Pipeline]:
    """A pipeline with its HTTP client and worker processes, closed cleanly on exit."""
    from monitor.ingest.fetcher import Fetcher, SharedBudgets
    from monitor.ingest.pipeline import Pipeline
    from monitor.ingest.processor import process_pool

    # instances sharing the database share each host's budget; the pipeline renews this instance's slots with its
    # feed claims, so the slots of an instance that died lapse after poll.lease as its feeds do
    shared = app.store.shared
    budgets = SharedBudgets(app.store, instance_id(app.settings), app.settings.poll.lease) if shared else None
    fetcher = Fetcher(app.settings.http, budgets)
    workers = process_pool(app.settings.extraction.worker_count())
    pipeline = Pipeline(app.settings, app.store, fetcher, workers)
    try:
        yield pipeline
    finally:
        pipeline.close()
        workers.shutdown(wait=True, cancel_futures=True)
        await fetcher.aclose()
