"""First start: the seed corpus and the default feed list (imported, never polled here)."""

from pathlib import Path

from monitor.core.config import Settings
from monitor.ingest.opml import read_opml
from monitor.ingest.seeds import packaged_seed_dir
from monitor.service.app import import_default_feeds, open_app

DEFAULT_OPML = Path(__file__).resolve().parent.parent / "config" / "feeds.opml"


def test_seeds_are_imported_once_with_their_ids_and_both_tags(settings: Settings) -> None:
    app = open_app(settings)
    seeds = {p.stem.split("_")[1] for p in packaged_seed_dir().glob("*.txt")}
    assert len(seeds) == 3
    stored = {a.id: a for a in app.store.articles()}
    assert set(stored) == seeds
    assert all(sorted(a.tags) == ["uk-defence-statement", "ukraine-war"] for a in stored.values())
    assert all(a.source == "seed" and a.content_hash != a.id for a in stored.values())
    open_app(settings)  # a second start imports nothing again
    assert len(app.store.articles()) == 3


def test_default_feeds_imported_on_first_start_only(settings: Settings) -> None:
    assert len(read_opml(DEFAULT_OPML).feeds) >= 15
    app = open_app(settings.model_copy(update={"default_feeds": str(DEFAULT_OPML)}))
    assert import_default_feeds(app) == len(read_opml(DEFAULT_OPML).feeds)
    assert all(f.url.startswith("https://") for f in app.store.feeds())
    for feed in app.store.feeds():  # the user removes them all: they do not come back
        app.store.remove_feed(feed.url)
    assert import_default_feeds(app) == 0 and app.store.feeds() == []


def test_default_feeds_not_imported_when_feeds_exist(settings: Settings) -> None:
    app = open_app(settings.model_copy(update={"default_feeds": str(DEFAULT_OPML)}))
    app.store.add_feed("http://127.0.0.2:1/own.xml")
    assert import_default_feeds(app) == 0
    assert [f.url for f in app.store.feeds()] == ["http://127.0.0.2:1/own.xml"]
