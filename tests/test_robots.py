"""robots.txt for article pages (RFC 9309), against real loopback servers."""

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from monitor.ingest.fetcher import Fetcher
from monitor.ingest.pipeline import CycleSummary, Pipeline
from monitor.ingest.robots import DISALLOWED, UNREACHABLE
from monitor.service.app import App
from monitor.store.models import Article
from tests.newsworld import Item, NewsServer, Reply, rss
from tests.test_cli import monitor
from tests.test_pipeline import make_due, publish

SUMMARY = "A summary long enough to be the article when its page is not fetched: " + "words " * 20


def feed_of(server: NewsServer, paths: list[str], path: str = "/feed.xml") -> str:
    items = [Item(f"Story {n}", server.url(p) if p.startswith("/") else p, f"guid-{p}", SUMMARY + p)
             for n, p in enumerate(paths)]
    server.static(path, rss(items), "application/rss+xml", conditional=False)
    return server.url(path)


def robots(server: NewsServer, text: str, headers: dict[str, str] | None = None) -> None:
    server.route("/robots.txt", lambda _r: Reply(200, text.encode(), {"Content-Type": "text/plain"} | (headers or {})))


def cycles(
    app: App, n: int, between: Callable[[], None] | None = None, clock: list[float] | None = None
) -> list[CycleSummary]:
    """``n`` polling cycles with one fetcher and pipeline (as the daemon has), every feed due again between
    them, after ``between()``; ``clock`` (a one-item list) is the robots cache's monotonic clock when given. A
    new pipeline starts with an empty robots.txt cache."""

    async def go() -> list[CycleSummary]:
        fetcher = Fetcher(app.settings.http)
        with ThreadPoolExecutor(2) as workers:
            pipeline = Pipeline(app.settings, app.store, fetcher, workers)
            if clock is not None:
                pipeline.robots._clock = lambda: clock[0]
            try:
                done = []
                for i in range(n):
                    if i:
                        if between is not None:
                            between()
                        make_due(app.store)
                    done.append(await pipeline.run_cycle())
                return done
            finally:
                pipeline.close()
                await fetcher.aclose()

    return asyncio.run(go())


def by_url(app: App, server: NewsServer) -> dict[str, Article]:
    return {a.url.removeprefix(server.url("")): a for a in app.store.articles() if a.url}


def test_disallowed_page_is_stored_from_the_feed_text_and_marked(app: App, server: NewsServer) -> None:
    robots(server, "User-agent: *\nDisallow: /private/\n\nUser-agent: otherbot\nDisallow: /\n")
    publish(server, 1, "/private/1")
    publish(server, 2, "/news/2")
    feed = feed_of(server, ["/private/1", "/news/2"])
    app.store.add_feed(feed)

    [summary] = cycles(app, 1)

    assert summary.entries["new"] == 2 and not summary.errors
    articles = by_url(app, server)
    assert articles["/private/1"].source == "feed" and articles["/private/1"].extraction_method == DISALLOWED
    assert articles["/private/1"].text.startswith("A summary long enough")
    assert articles["/news/2"].source == "page" and "Story 2, paragraph 5" in articles["/news/2"].text
    assert server.hits("/private/1") == [] and len(server.hits("/news/2")) == 1
    assert len(server.hits("/robots.txt")) == 1
    feed_row = app.store.feed(feed)
    assert feed_row is not None and feed_row.id is not None
    assert app.store.robots_withheld(feed_row.id) == {DISALLOWED: 1}


def test_rules_are_matched_against_the_user_agent(app: App, server: NewsServer) -> None:
    agent = app.settings.http.user_agent.split("/")[0]  # "monitor": robots.txt names the product token
    robots(server, f"User-agent: {agent}\nDisallow: /news/\n\nUser-agent: *\nAllow: /\n")
    publish(server, 1)
    app.store.add_feed(feed_of(server, ["/news/1"]))

    cycles(app, 1)

    assert server.hits("/news/1") == []
    assert by_url(app, server)["/news/1"].extraction_method == DISALLOWED


def test_the_feed_itself_is_polled_whatever_robots_txt_says(app: App, server: NewsServer) -> None:
    robots(server, "User-agent: *\nDisallow: /\n")
    publish(server, 1)
    app.store.add_feed(feed_of(server, ["/news/1"]))

    [summary] = cycles(app, 1)

    assert summary.outcomes == {"ok": 1} and len(server.hits("/feed.xml")) == 1
    assert server.hits("/news/1") == [] and by_url(app, server)["/news/1"].source == "feed"


def test_missing_robots_txt_allows_everything(app: App, server: NewsServer) -> None:
    publish(server, 1)  # no /robots.txt: the test server answers 404
    app.store.add_feed(feed_of(server, ["/news/1"]))

    cycles(app, 1)

    assert len(server.hits("/robots.txt")) == 1 and len(server.hits("/news/1")) == 1
    assert by_url(app, server)["/news/1"].source == "page"


def test_a_5xx_robots_txt_disallows_everything_for_a_while(app: App, server: NewsServer) -> None:
    server.route("/robots.txt", lambda _r: Reply(503, b"busy"))
    publish(server, 1)
    publish(server, 2)
    app.store.add_feed(feed_of(server, ["/news/1", "/news/2"]))

    cycles(app, 1)

    assert server.hits("/news/1") == server.hits("/news/2") == []
    assert {a.extraction_method for a in app.store.articles()} == {UNREACHABLE}
    assert len(server.hits("/robots.txt")) == 1, "asked once, not again at every page"


def test_an_unreachable_robots_txt_disallows_everything_then_is_asked_again(app: App, server: NewsServer) -> None:
    server.route("/robots.txt", lambda _r: Reply(200, b"User-agent: *\nAllow: /\n", delay=5))  # past the timeouts
    publish(server, 1)
    feed = feed_of(server, ["/news/1"])
    app.store.add_feed(feed)
    clock = [1000.0]

    def later() -> None:  # the short retry period over, robots.txt answers: the next new page is fetched
        assert server.hits("/news/1") == [] and by_url(app, server)["/news/1"].extraction_method == UNREACHABLE
        robots(server, "User-agent: *\nAllow: /\n")
        publish(server, 2)
        feed_of(server, ["/news/1", "/news/2"])
        clock[0] += 601

    cycles(app, 2, clock=clock, between=later)

    assert len(server.hits("/news/2")) == 1 and by_url(app, server)["/news/2"].source == "page"


def test_robots_txt_is_cached_per_host_by_max_age(app: App, server: NewsServer) -> None:
    robots(server, "User-agent: *\nDisallow: /private/\n", {"Cache-Control": "max-age=300"})
    paths = [f"/news/{n}" for n in range(3)]
    for n in range(3):
        publish(server, n)
    feed_of(server, paths)
    app.store.add_feed(server.url("/feed.xml"))
    clock = [1000.0]

    async def go() -> None:
        fetcher = Fetcher(app.settings.http)
        with ThreadPoolExecutor(2) as workers:
            pipeline = Pipeline(app.settings, app.store, fetcher, workers)
            pipeline.robots._clock = lambda: clock[0]
            try:
                await pipeline.run_cycle()
                assert len(server.hits("/robots.txt")) == 1, "one request for three pages"
                for n in range(3, 5):  # more cycles within max-age, each with a new page
                    publish(server, n)
                    paths.append(f"/news/{n}")
                    feed_of(server, paths)
                    make_due(app.store)
                    clock[0] += 100
                    await pipeline.run_cycle()
                assert len(server.hits("/robots.txt")) == 1, "within max-age: not asked again"
                publish(server, 9)
                paths.append("/news/9")
                feed_of(server, paths)
                make_due(app.store)
                clock[0] += 200  # 400 s after the first read: expired
                await pipeline.run_cycle()
                assert len(server.hits("/robots.txt")) == 2, "expired: read again"
            finally:
                pipeline.close()
                await fetcher.aclose()

    asyncio.run(go())
    assert len(server.hits("/news/9")) == 1 and len(app.store.articles()) == 6


def test_robots_txt_is_read_again_after_a_real_max_age(app: App, server: NewsServer) -> None:
    robots(server, "User-agent: *\nAllow: /\n", {"Cache-Control": "max-age=1"})
    publish(server, 1)
    publish(server, 2)
    app.store.add_feed(feed_of(server, ["/news/1"]))

    async def go() -> None:
        fetcher = Fetcher(app.settings.http)
        with ThreadPoolExecutor(2) as workers:
            pipeline = Pipeline(app.settings, app.store, fetcher, workers)
            try:
                await pipeline.run_cycle()
                first = server.hits("/robots.txt")[0].at
                feed_of(server, ["/news/1", "/news/2"])
                make_due(app.store)
                deadline = time.monotonic() + 5
                while time.monotonic() < first + 1.2 and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                await pipeline.run_cycle()
            finally:
                pipeline.close()
                await fetcher.aclose()

    asyncio.run(go())
    assert len(server.hits("/robots.txt")) == 2 and len(server.hits("/news/2")) == 1


def test_crawl_delay_spaces_the_page_fetches(app: App, server: NewsServer) -> None:
    robots(server, "User-agent: *\nCrawl-delay: 1\n")
    paths = [f"/news/{n}" for n in range(3)]
    for n in range(3):
        publish(server, n)
    app.store.add_feed(feed_of(server, paths))

    cycles(app, 1)

    starts = sorted(r.at for r in server.requests if r.path.startswith(("/news/", "/robots.txt")))
    assert len(starts) == 4
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(gap >= 0.95 for gap in gaps), gaps


def test_per_feed_override_fetches_disallowed_pages(app: App, server: NewsServer) -> None:
    robots(server, "User-agent: *\nDisallow: /\n")
    publish(server, 1)
    feed = feed_of(server, ["/news/1"])
    app.store.add_feed(feed)
    assert app.store.set_feed_ignore_robots(feed, True) is not None

    cycles(app, 1)

    assert len(server.hits("/news/1")) == 1 and by_url(app, server)["/news/1"].source == "page"
    assert server.hits("/robots.txt") == [], "not even asked"

    assert app.store.set_feed_ignore_robots(feed, False) is not None
    publish(server, 2)
    feed_of(server, ["/news/1", "/news/2"])
    make_due(app.store)
    cycles(app, 1)
    assert server.hits("/news/2") == [] and by_url(app, server)["/news/2"].extraction_method == DISALLOWED


def test_cli_sets_the_override_and_says_why_an_article_is_from_the_feed(config_file: Path, server: NewsServer) -> None:
    robots(server, "User-agent: *\nDisallow: /private/\n")
    publish(server, 1, "/private/1")
    feed = feed_of(server, ["/private/1"])
    monitor("feeds", "add", "--no-check", feed)
    monitor("poll", "--once")

    shown = monitor("feeds", "show", feed).stdout
    assert "robots.txt: obeyed for article pages (1 article stored from the feed's text: robots.txt disallows)" in shown
    assert json.loads(monitor("feeds", "show", feed, "--json").stdout)["robots_withheld"] == {DISALLOWED: 1}
    listed = [json.loads(line) for line in monitor("articles", "list", "--json").stdout.splitlines()]
    [article] = [a for a in listed if a["url"] == server.url("/private/1")]  # among the seed corpus
    assert article["source"] == "feed" and article["extraction_method"] == DISALLOWED
    assert "extraction_method: robots.txt disallows" in monitor("articles", "show", article["id"]).stdout

    assert "robots.txt ignored for this feed's article pages" in monitor("feeds", "set", feed, "--ignore-robots").stdout
    assert json.loads(monitor("feeds", "show", feed, "--json").stdout)["ignore_robots"] is True
    assert "robots.txt: ignored" in monitor("feeds", "show", feed).stdout
    assert "robots.txt obeyed" in monitor("feeds", "set", feed, "--obey-robots").stdout
    assert json.loads(monitor("feeds", "show", feed, "--json").stdout)["ignore_robots"] is False
    nothing = monitor("feeds", "set", feed, check=False)
    assert nothing.returncode != 0 and "nothing to set" in nothing.stderr
