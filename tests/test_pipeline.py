import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from monitor.dedup.exact import content_hash
from monitor.ingest.pipeline import GroupCommit, together_or_each
from monitor.ingest.processor import Options
from monitor.ingest.seeds import import_corpus, packaged_seed_dir, read_text
from monitor.service.app import App
from monitor.store import Store
from monitor.store.models import Article, ArticleSource, Feed
from tests.conftest import run_cycle
from tests.newsworld import Item, NewsServer, Reply, article_page, article_text, atom, rss


def publish(server: NewsServer, n: int, path: str | None = None, **kw: object) -> str:
    """Serve story ``n`` as an article page; returns its URL."""
    path = path or f"/news/{n}"
    server.static(path, article_page(f"Story {n} headline", article_text(n), **kw))  # type: ignore[arg-type]
    return server.url(path)


def make_due(store: Store) -> None:
    with Session(store.engine) as s:
        s.execute(sa.update(Feed).values(next_poll_at=datetime.now(UTC) - timedelta(seconds=1)))
        s.commit()


def feed_row(store: Store, url: str) -> Feed:
    return next(f for f in store.feeds() if f.url == url)


def all_articles(store: Store) -> list[Article]:
    return store.articles()


def test_poll_stores_articles_with_page_text_and_metadata(app: App, server: NewsServer) -> None:
    when = datetime(2022, 3, 2, 9, 30, tzinfo=UTC)
    items = [Item(f"Story {n} headline", publish(server, n), f"guid-{n}", "Short summary", when) for n in range(3)]
    server.static("/feed.xml", rss(items), "application/rss+xml")
    app.store.add_feed(server.url("/feed.xml"))

    summary = run_cycle(app)

    assert summary.entries["new"] == 3 and not summary.errors
    articles = {a.title: a for a in all_articles(app.store)}
    article = articles["Story 1 headline"]
    assert article.source == "page"
    assert "Story 1, paragraph 5" in article.text
    assert "Related story number" not in article.text and "Comment: first!" not in article.text
    assert article.id == content_hash(article.text) and len(article.id) == 16
    assert article.published == when
    assert article.guid == "guid-1" and article.url == server.url("/news/1")
    assert article.fetched_at.tzinfo is not None


def test_second_poll_is_a_304_and_costs_no_parsing(app: App, server: NewsServer) -> None:
    server.static("/feed.xml", rss([Item("A", publish(server, 1))]), "application/rss+xml")
    app.store.add_feed(server.url("/feed.xml"))
    run_cycle(app)
    make_due(app.store)

    summary = run_cycle(app)

    assert summary.outcomes == {"not_modified": 1}
    assert len(server.hits("/news/1")) == 1
    history = app.store.fetch_history(feed_row(app.store, server.url("/feed.xml")).id or 0)
    assert [h.outcome for h in history] == ["not_modified", "ok"]


def test_identical_body_without_validators_is_not_parsed_again(app: App, server: NewsServer) -> None:
    server.static("/feed.xml", rss([Item("A", publish(server, 1))]), "application/rss+xml", conditional=False)
    app.store.add_feed(server.url("/feed.xml"))
    run_cycle(app)
    make_due(app.store)
    assert run_cycle(app).outcomes == {"unchanged": 1}


def test_new_entries_in_a_changed_feed_are_fetched(app: App, server: NewsServer) -> None:
    doc = server.static("/feed.xml", rss([Item("A", publish(server, 1))]), "application/rss+xml")
    app.store.add_feed(server.url("/feed.xml"))
    run_cycle(app)
    doc.set(rss([Item("B", publish(server, 2)), Item("A", server.url("/news/1"))]))
    make_due(app.store)

    summary = run_cycle(app)

    assert (summary.entries["new"], summary.entries["seen"]) == (1, 1)
    assert len(server.hits("/news/1")) == 1


def test_permanent_redirect_updates_the_feed_url(app: App, server: NewsServer) -> None:
    server.static("/new.xml", rss([Item("A", publish(server, 1))]), "application/rss+xml")
    server.route("/old.xml", lambda r: Reply(301, headers={"Location": server.url("/new.xml")}))
    app.store.add_feed(server.url("/old.xml"))
    run_cycle(app)
    assert [f.url for f in app.store.feeds()] == [server.url("/new.xml")]


def test_410_disables_the_feed_with_a_reason(app: App, server: NewsServer) -> None:
    server.route("/gone.xml", lambda r: Reply(410))
    app.store.add_feed(server.url("/gone.xml"))
    run_cycle(app)
    feed = app.store.feeds()[0]
    assert not feed.enabled and "410" in (feed.disabled_reason or "")
    make_due(app.store)
    assert run_cycle(app).feeds == 0


def test_429_retry_after_and_backoff(app: App, server: NewsServer) -> None:
    server.route("/busy.xml", lambda r: Reply(429, headers={"Retry-After": "3000"}))
    server.route("/broken.xml", lambda r: Reply(500))
    app.store.add_feed(server.url("/busy.xml"))
    app.store.add_feed(server.url("/broken.xml"))
    before = datetime.now(UTC)

    summary = run_cycle(app)

    assert summary.outcomes == {"error": 2} and len(summary.errors) == 2
    busy, broken = feed_row(app.store, server.url("/busy.xml")), feed_row(app.store, server.url("/broken.xml"))
    assert busy.next_poll_at >= before + timedelta(seconds=3000)
    assert broken.error_count == 1 and "500" in (broken.last_error or "")
    first_delay = broken.next_poll_at - before
    make_due(app.store)
    run_cycle(app)
    broken = feed_row(app.store, server.url("/broken.xml"))
    assert broken.error_count == 2
    assert broken.next_poll_at - datetime.now(UTC) > first_delay  # exponential back-off
    assert broken.next_poll_at - datetime.now(UTC) <= timedelta(seconds=3600)  # capped, still polled
    assert broken.enabled


def test_timeouts_oversize_and_malformed_feeds_record_errors(app: App, server: NewsServer) -> None:
    server.route("/slow.xml", lambda r: Reply(200, b"<rss/>", delay=5))
    server.static("/huge.xml", b"<rss>" + b" " * 400_000 + b"</rss>", "application/rss+xml")
    server.static("/junk.xml", b"<html><body>no feed here</body></html>", "text/html")
    good = server.static("/good.xml", rss([Item("A", publish(server, 1))]), "application/rss+xml")
    for path in ("/slow.xml", "/huge.xml", "/junk.xml", "/good.xml"):
        app.store.add_feed(server.url(path))

    summary = run_cycle(app)

    errors = dict(summary.errors)
    assert errors[server.url("/slow.xml")].startswith("timeout")
    assert errors[server.url("/huge.xml")].startswith("too_large")
    assert errors[server.url("/junk.xml")].startswith("parse")
    assert summary.entries["new"] == 1 and good


def test_gzip_non_utf8_and_malformed_feeds_are_ingested(app: App, server: NewsServer) -> None:
    server.static("/gz.xml", rss([Item("Gz", publish(server, 1))]), "application/rss+xml", gzip=True)
    server.static(
        "/cp1251.xml", rss([Item("Київ під обстрілом", publish(server, 2))], encoding="windows-1251"),
        "application/rss+xml",
    )
    broken = rss([Item("Broken & unescaped", publish(server, 3))]).replace(b"&amp;", b"&")
    server.static("/bozo.xml", broken, "application/rss+xml")
    server.static("/atom.xml", atom([Item("Atom", publish(server, 4))]), "application/atom+xml")
    for path in ("/gz.xml", "/cp1251.xml", "/bozo.xml", "/atom.xml"):
        app.store.add_feed(server.url(path))

    summary = run_cycle(app)

    assert summary.entries["new"] == 4 and not summary.errors
    titles = {a.title for a in all_articles(app.store)}
    assert {"Gz", "Київ під обстрілом", "Broken & unescaped", "Atom"} <= titles


def test_same_article_in_two_feeds_under_tracking_parameters(app: App, server: NewsServer, server2: NewsServer) -> None:
    url = publish(server, 7)
    server.static("/a.xml", rss([Item("Seven", url + "?utm_source=rss&utm_medium=feed")]), "application/rss+xml")
    server2.static("/b.xml", rss([Item("Seven", url + "?fbclid=XYZ#comments")]), "application/rss+xml")
    app.store.add_feed(server.url("/a.xml"))
    app.store.add_feed(server2.url("/b.xml"))

    run_cycle(app)
    make_due(app.store)
    run_cycle(app)

    articles = all_articles(app.store)
    assert len(articles) == 1
    sources = app.store.sightings([articles[0].id])[articles[0].id]
    assert {s.feed_id for s in sources} == {f.id for f in app.store.feeds()}
    assert len({s.canonical_url for s in sources}) == 1
    assert len(server.hits("/news/7")) == 1  # fetched once


def test_rel_canonical_joins_different_urls(app: App, server: NewsServer, server2: NewsServer) -> None:
    canonical = server.url("/story/8")
    server.static("/amp/8", article_page("Eight", article_text(8), canonical=canonical))
    server.static("/story/8", article_page("Eight", article_text(8), canonical=canonical))
    server.static("/a.xml", rss([Item("Eight", server.url("/story/8"))]), "application/rss+xml")
    server2.static("/b.xml", rss([Item("Eight", server.url("/amp/8"))]), "application/rss+xml")
    app.store.add_feed(server.url("/a.xml"))
    run_cycle(app)
    app.store.add_feed(server2.url("/b.xml"))

    summary = run_cycle(app)

    assert summary.entries["seen"] == 1
    assert len(all_articles(app.store)) == 1


def test_same_text_under_another_url_is_a_duplicate(app: App, server: NewsServer, server2: NewsServer) -> None:
    server.static("/feed.xml", rss([Item("Nine", publish(server, 9))]), "application/rss+xml")
    server2.static("/feed.xml", rss([Item("Nine (wire)", publish(server2, 9, path="/wire/9"))]), "application/rss+xml")
    app.store.add_feed(server.url("/feed.xml"))
    app.store.add_feed(server2.url("/feed.xml"))

    summary = run_cycle(app)

    assert (summary.entries["new"], summary.entries["duplicate"]) == (1, 1)
    article = all_articles(app.store)[0]
    assert len(app.store.sightings([article.id])[article.id]) == 2


def test_page_equal_to_a_seed_is_recognised_as_the_seed(app: App, server: NewsServer) -> None:
    import_corpus(app.store, packaged_seed_dir(), Options.from_settings(app.settings))
    seed_path = sorted(packaged_seed_dir().glob("001_*.txt"))[0]
    seed_text = read_text(seed_path)
    paragraphs = [p for p in seed_text.split("\n") if p.strip()]
    server.static("/seed", article_page("Heappey: Putin has miscalculated appallingly", paragraphs, byline=False))
    server.static("/feed.xml", rss([Item("Heappey", server.url("/seed"))]), "application/rss+xml")
    app.store.add_feed(server.url("/feed.xml"))

    summary = run_cycle(app)

    assert summary.entries["duplicate"] == 1, [a.text[:80] for a in all_articles(app.store)]
    assert len(all_articles(app.store)) == 3
    seed_id = seed_path.stem.split("_")[1]
    assert [s.url for s in app.store.sightings([seed_id])[seed_id]] == [server.url("/seed")]


def test_unfetchable_page_falls_back_to_the_feed_content(app: App, server: NewsServer) -> None:
    summary_html = "<p>Ukrainian forces retook the village, the general staff said.</p><script>x()</script>"
    server.route("/news/404", lambda r: Reply(404))
    feed = rss([Item("Fallback", server.url("/news/404"), "g", summary_html)])
    server.static("/feed.xml", feed, "application/rss+xml")
    app.store.add_feed(server.url("/feed.xml"))

    run_cycle(app)

    article = all_articles(app.store)[0]
    assert article.source == "feed"
    assert article.text == "Ukrainian forces retook the village, the general staff said."


def test_entry_without_link_or_guid_is_stored_once(app: App, server: NewsServer) -> None:
    only = Item("Only a title", None, None, "Some words of text here.")
    server.static("/feed.xml", rss([only]), "application/rss+xml")
    app.store.add_feed(server.url("/feed.xml"))
    run_cycle(app)
    make_due(app.store)
    server.static("/feed.xml", rss([only, Item("x", None, None, "Other text.")]), "application/rss+xml")
    run_cycle(app)
    assert len(all_articles(app.store)) == 2


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_each_article_is_one_transaction(app: App, server: NewsServer) -> None:
    server.static("/feed.xml", rss([Item("A", publish(server, 1))]), "application/rss+xml")
    app.store.add_feed(server.url("/feed.xml"))
    run_cycle(app)
    with Session(app.store.engine) as s:
        assert s.exec(select(sa.func.count()).select_from(ArticleSource)).one() == 1


def test_group_commit_writes_waiting_items_together_and_isolates_failures() -> None:
    batches: list[list[int]] = []

    async def write(items: list[int]) -> list[int | Exception]:
        batches.append(items)
        await asyncio.sleep(0.05)  # the writer is busy: later items wait and go together
        return [ValueError(i) if i == 3 else i * 10 for i in items]

    async def go() -> list[int | BaseException]:
        commit = GroupCommit(write)
        first = [asyncio.ensure_future(commit(i)) for i in (1, 2)]
        await asyncio.sleep(0.01)
        later = []
        for i in (3, 4, 5):  # one by one, while the first batch is being written
            later.append(asyncio.ensure_future(commit(i)))
            await asyncio.sleep(0.001)
        return await asyncio.gather(*first, *later, return_exceptions=True)

    results = asyncio.run(go())
    assert batches == [[1, 2], [3, 4, 5]]
    assert results[:2] == [10, 20] and isinstance(results[2], ValueError) and results[3:] == [40, 50]


def test_together_or_each_falls_back_to_one_write_per_item() -> None:
    calls: list[list[str]] = []

    def write(items: list[str]) -> list[str]:
        calls.append(items)
        if "bad" in items:
            raise RuntimeError("constraint")
        return [i.upper() for i in items]

    results = together_or_each(write, ["a", "bad", "c"])
    assert results[0] == "A" and isinstance(results[1], RuntimeError) and results[2] == "C"
    assert calls == [["a", "bad", "c"], ["a"], ["bad"], ["c"]]
    assert together_or_each(write, ["x", "y"]) == ["X", "Y"]


def test_a_failed_poll_logs_when_it_is_tried_again(
    app: App, server: NewsServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.route("/broken.xml", lambda r: Reply(503))
    app.store.add_feed(server.url("/broken.xml"))
    with caplog.at_level(logging.WARNING, logger="monitor.ingest.pipeline"):
        run_cycle(app)
    broken = feed_row(app.store, server.url("/broken.xml"))
    [line] = [r for r in caplog.records if r.getMessage().startswith("feed poll failed")]
    assert f"next attempt at {broken.next_poll_at:%Y-%m-%d %H:%M:%S} UTC" in line.getMessage()
    assert line.next_attempt == broken.next_poll_at.isoformat(timespec="seconds")  # type: ignore[attr-defined]


def test_seed_files_give_their_date_and_a_readable_title(app: App, tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    prose = ("Defence ministers met in Brussels on Tuesday to agree a further package of air defence support for"
             " Ukraine. More followed.")
    (folder / "000_00000000000000a1.txt").write_text(f" date 2022-10 [[title]] [[text]] Sign up\n\n{prose}\n")
    (folder / "001_00000000000000a2.txt").write_text("A headline set apart\n\nThe story in full.\n")
    (folder / "002_00000000000000a3.txt").write_text(f"{prose}\n{prose}\n date 2022-13 is no date\n")
    import_corpus(app.store, folder, Options.from_settings(app.settings))
    first, second, third = (app.store.article(f"00000000000000a{n}") for n in (1, 2, 3))
    assert first and second and third
    assert first.published == datetime(2022, 10, 1, tzinfo=UTC)
    assert first.title == ("Defence ministers met in Brussels on Tuesday to agree a further package of air defence "
                           "support for …")
    assert second.title == "A headline set apart" and second.published is None
    assert third.published is None and third.title and third.title.startswith("Defence ministers met")
