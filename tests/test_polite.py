"""Polite at scale on one PostgreSQL (issue 25): instances fetch each article page once (page claims) and keep one
host's gap and concurrency together (host budgets in the database), measured by real loopback servers."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

from benchmarks.instances import (
    Db,
    add_feeds,
    instances,
    monitor_env,
    polled_by,
    reset_database,
    run_fleet,
    wait_for,
    write_config,
)
from monitor.store import Store, page_key
from monitor.store.claims import SLOT_RETRY
from monitor.store.engine import create_db_engine, migrate
from tests.conftest import PG_SKIP, PG_URL
from tests.newsworld import Item, NewsServer, Reply, Request, article_page, article_text, rss
from tests.test_instances import stop

pytestmark = pytest.mark.skipif(not PG_URL, reason=PG_SKIP)


@pytest.fixture
def pg_store() -> Iterator[Store]:
    assert PG_URL
    reset_database(PG_URL)
    engine = create_db_engine(PG_URL)
    migrate(engine)
    yield Store(engine)
    engine.dispose()


def test_a_page_claim_is_held_until_released_or_expired(pg_store: Store) -> None:
    key = page_key("http://127.0.0.2/news/1")
    assert pg_store.claim_pages("a", [key], 60) == {key}
    assert pg_store.claim_pages("b", [key], 60) == set(), "held by a"
    assert pg_store.claim_pages("a", [key, key], 60) == {key}, "its own claim is renewed"
    pg_store.release_pages("a", [key])
    assert pg_store.claim_pages("b", [key], 0.2) == {key}, "released"
    wait_for(lambda: pg_store.claim_pages("c", [key], 60) == {key}, timeout=30)  # b died: its claim expired
    pg_store.release_claims("c")
    assert pg_store.claim_pages("a", [key], 60) == {key}


def test_a_host_budget_gives_slots_spaced_by_the_gap_up_to_the_limit(pg_store: Store) -> None:
    host = "127.0.0.2:80"
    first = pg_store.take_host_slot(host, "a", gap=0.3, limit=2, lease_seconds=60)
    assert isinstance(first, str)
    wait = pg_store.take_host_slot(host, "b", gap=0.3, limit=2, lease_seconds=60)
    assert isinstance(wait, float) and 0 < wait <= 0.3, "the next start is a gap away"
    assert isinstance(pg_store.take_host_slot("127.0.0.3:80", "b", 0.3, 2, 60), str), "another host: its own budget"
    time.sleep(wait)
    assert pg_store.take_host_slot(host, "b", 0.0, 2, 60) == SLOT_RETRY, "the first start has not left yet"
    pg_store.sent_on_host_slot(first, host, gap=0.0)
    second = pg_store.take_host_slot(host, "b", gap=0.0, limit=2, lease_seconds=0.5)
    assert isinstance(second, str)
    pg_store.sent_on_host_slot(second, host, gap=0.0)
    assert pg_store.take_host_slot(host, "a", 0.0, 2, 60) == SLOT_RETRY, "both slots taken"
    pg_store.give_host_slot(first, host, None)
    third = pg_store.take_host_slot(host, "a", 0.0, 2, 60)
    assert isinstance(third, str), "a slot given back is free"
    pg_store.sent_on_host_slot(third, host, gap=0.0)
    # the holder of the second died: its slot lapses after its lease
    wait_for(lambda: isinstance(pg_store.take_host_slot(host, "c", 0.0, 2, 60), str), timeout=30)


def poll_once(config: Path, name: str, feed: str) -> subprocess.Popen[bytes]:
    """``monitor poll --once --feed`` as instance ``name``, logging to ``name.log``."""
    # the held page must not time out first: the other instance would fetch it once the claim is released
    env = monitor_env(config) | {"MONITOR_INSTANCE_NAME": name, "MONITOR_HTTP_READ_TIMEOUT": "240",
                                 "MONITOR_HTTP_TOTAL_TIMEOUT": "280"}
    with (config.parent / f"{name}.log").open("wb") as log:
        return subprocess.Popen([sys.executable, "-m", "monitor", "poll", "--once", "--feed", feed], stderr=log,
                                stdout=subprocess.DEVNULL, env=env, cwd=config.parent)


@pytest.mark.timeout(600)
def test_a_page_listed_in_two_feeds_polled_at_once_by_two_instances_is_fetched_once(tmp_path: Path) -> None:
    assert PG_URL
    reset_database(PG_URL)
    server = NewsServer("127.0.0.2")
    answer = threading.Event()
    page = Reply(200, article_page("Shared story", article_text(7)).encode(), {"Content-Type": "text/html"})

    def held(_request: Request) -> Reply:  # the page answers when the test says: both polls run meanwhile
        answer.wait(timeout=300)
        return page

    shared = server.route("/news/shared", held)
    feeds = [server.url(f"/feed{f}.xml") for f in range(2)]
    for f in range(2):
        server.static(f"/feed{f}.xml", rss([Item("Shared story", shared, f"shared-{f}")]), "application/rss+xml")
    config = write_config(tmp_path, PG_URL, lease=30)
    add_feeds(config, feeds)
    db = Db(PG_URL)
    polls: list[subprocess.Popen[bytes]] = []
    try:
        polls.append(poll_once(config, "i1", feeds[0]))
        wait_for(lambda: len(server.hits("/news/shared")) == 1)
        polls.append(poll_once(config, "i2", feeds[1]))
        wait_for(lambda: "another instance is fetching the page" in (tmp_path / "i2.log").read_text(errors="replace"))
        answer.set()
        for poll in polls:
            assert poll.wait(timeout=300) == 0, (tmp_path / "i1.log").read_text() + (tmp_path / "i2.log").read_text()
        assert len(server.hits("/news/shared")) == 1, "one GET for the page"
        assert db.one("SELECT count(*) FROM article") == 1
        assert db.one("SELECT count(*) FROM article_source") == 2, "both feeds' sightings recorded"
        assert db.one("SELECT count(*) FROM page_claim") == 0, "claims released"
    finally:
        answer.set()
        for poll in polls:
            stop(poll)
        db.close()
        server.close()


@pytest.mark.timeout(900)
def test_instances_polling_feeds_that_share_pages_fetch_each_page_once(tmp_path: Path) -> None:
    assert PG_URL
    figures = run_fleet(PG_URL, tmp_path, 2, shared=2)
    print(figures.line())
    assert set(figures.page_requests.values()) == {1}, "every page fetched once"
    assert figures.articles == figures.pages and figures.sightings == figures.listings, "nothing lost or doubled"
    assert sum(1 for n in figures.pollers.values() if n) >= 2, f"the work was shared: {figures.pollers}"


def record_spans(server: NewsServer, path: str, reply: Reply, delay: float,
                 spans: list[tuple[float, float]]) -> None:
    """Serve ``reply`` at ``path`` after ``delay`` seconds, recording when each request was being handled."""
    lock = threading.Lock()

    def handle(_request: Request) -> Reply:
        started = time.monotonic()
        time.sleep(delay)
        with lock:
            spans.append((started, time.monotonic()))
        return reply

    server.route(path, handle)


def most_at_once(spans: list[tuple[float, float]]) -> int:
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])  # an end before a start
    level = peak = 0
    for _at, step in events:
        level += step
        peak = max(peak, level)
    return peak


@pytest.mark.timeout(600)
def test_two_instances_keep_one_slow_hosts_gap_and_concurrency(tmp_path: Path) -> None:
    assert PG_URL
    gap, limit, feeds, per_feed = 0.3, 2, 8, 2
    reset_database(PG_URL)
    server = NewsServer("127.0.0.2")
    spans: list[tuple[float, float]] = []
    for f in range(feeds):
        items = []
        for e in range(per_feed):
            n = f * 100 + e
            page = Reply(200, article_page(f"Story {n}", article_text(n)).encode(), {"Content-Type": "text/html"})
            record_spans(server, f"/news/{n}", page, 1.5, spans)  # a slow host: the limit binds, not the gap
            items.append(Item(f"Story {n}", server.url(f"/news/{n}"), f"g{n}"))
        server.static(f"/feed{f}.xml", rss(items), "application/rss+xml")
    config = write_config(tmp_path, PG_URL, lease=30, gap=gap, per_host=limit, concurrent_feeds=2)
    add_feeds(config, [server.url(f"/feed{f}.xml") for f in range(feeds)])
    db = Db(PG_URL)
    try:
        with instances(config, 2) as procs:
            wait_for(lambda: db.one("SELECT count(*) FROM article") == feeds * per_feed, timeout=300)
            names = list(procs)
        starts = [r.at for r in server.requests]  # every request to the host: feeds, robots.txt, pages
        assert len(starts) >= feeds * (per_feed + 1)
        closest = min(b - a for a, b in pairwise(sorted(starts)))
        print(f"{len(starts)} requests, closest starts {closest:.3f}s apart (gap {gap}s), "
              f"at most {most_at_once(spans)} pages at once (limit {limit})")
        assert closest >= gap - 0.05, "the gap held for both instances together"
        assert most_at_once(spans) <= limit, "the concurrency held for both instances together"
        assert all(polled_by(tmp_path, names).values()), "both instances polled"
        assert db.one("SELECT count(*) FROM host_slot") == 0, "every slot given back"
    finally:
        db.close()
        server.close()
