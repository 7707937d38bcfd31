"""Several `monitor run` instances on one PostgreSQL against a loopback world whose servers count every request.

    python -m benchmarks.instances --database postgresql+psycopg://postgres@127.0.0.1:5432/bench

THE DATABASE IS EMPTIED (its public schema dropped) before each run. Prints, for 1, 2 and 3 instances: page
requests per page (``--shared`` pages of each feed are listed by two feeds: 0 fetched twice is the page claims'
work), polls per feed within one interval, wall time until every article is stored; then the
takeover delay after `kill -9` of one of two instances mid-cycle (until another instance polls a feed the
dead one had claimed, and until every feed is done). tests/test_instances.py runs the same harness.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from monitor.store.engine import create_db_engine
from tests.newsworld import Item, NewsServer, Reply, article_page, article_text, rss

ROOT = Path(__file__).resolve().parent.parent
HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")


@dataclass
class World:
    """Sites on three loopback hosts; feed ``f`` lists ``entries`` pages of its own, and the first ``shared`` of
    the next feed's (those pages are in two feeds, which instances may poll at the same moment)."""

    servers: list[NewsServer]
    feeds: list[str]
    pages: list[str]  # paths
    listings: int  # entries in all the feeds: a sighting each

    def close(self) -> None:
        for server in self.servers:
            server.close()

    def requests(self) -> Counter[str]:
        return Counter(r.path for s in self.servers for r in s.requests)


def make_world(feeds: int, entries: int, page_delay: float, shared: int = 0) -> World:
    servers = [NewsServer(host) for host in HOSTS]
    items: list[list[Item]] = []
    pages = []
    for f in range(feeds):
        server = servers[f % len(servers)]
        items.append([])
        for e in range(entries):
            n = f * 1000 + e
            path = f"/news/{n}"
            reply = Reply(200, article_page(f"Story {n}", article_text(n)).encode(), {"Content-Type": "text/html"},
                          delay=page_delay)
            server.route(path, lambda _r, reply=reply: reply)
            items[f].append(Item(f"Story {n}", server.url(path), f"g{n}"))
            pages.append(path)
    feed_urls = []
    for f in range(feeds):
        server = servers[f % len(servers)]
        listed = items[f] + items[(f + 1) % feeds][:shared]
        server.static(f"/feed{f}.xml", rss(listed), "application/rss+xml")
        feed_urls.append(server.url(f"/feed{f}.xml"))
    return World(servers, feed_urls, pages, listings=feeds * (entries + shared))


def write_config(folder: Path, database_url: str, lease: float, gap: float = 0.0, per_host: int = 4,
                 concurrent_feeds: int = 4) -> Path:
    """The instances' config: ``gap`` and ``per_host`` are each host's http.per_host_min_gap and
    http.per_host_concurrency, ``concurrent_feeds`` poll.max_concurrent_feeds."""
    config = folder / "monitor.toml"
    config.write_text(
        f'database_url = "{database_url}"\ndefault_feeds = ""\nimport_seeds = false\n'
        f'heartbeat_file = "{folder / "heartbeat"}"\n'
        f"[poll]\ninterval = 3600\ntick = 0.5\nlease = {lease}\nmax_concurrent_feeds = {concurrent_feeds}\n"
        "[http]\nconnect_timeout = 5.0\nread_timeout = 10.0\ntotal_timeout = 20.0\n"
        f"per_host_concurrency = {per_host}\nper_host_min_gap = {gap}\n"
        # the world is on loopback, which the SSRF guard refuses unless allowed
        "allowed_networks = [\"127.0.0.0/8\"]\n[extraction]\nworkers = 1\n"
        f'[tagging]\ntags_file = "{ROOT / "config/tags.toml"}"\nofficials_file = "{ROOT / "config/officials.toml"}"\n'
        f'model_file = "{ROOT / "config/model.json"}"\n'
    )
    return config


def reset_database(url: str) -> None:
    engine = create_db_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def monitor_env(config: Path) -> dict[str, str]:
    """The instances' environment: ``config``, no other MONITOR_* setting, and this tree's code first (they run
    in their own folder, where the installed package would be imported otherwise)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    path = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env | {"MONITOR_CONFIG": str(config), "PYTHONPATH": path}


def add_feeds(config: Path, urls: list[str]) -> None:
    """Registers the feeds (and migrates the schema) before any instance starts."""
    subprocess.run([sys.executable, "-m", "monitor", "feeds", "add", "--no-check", *urls], check=True,
                   capture_output=True, env=monitor_env(config), cwd=config.parent)


@contextmanager
def instances(config: Path, count: int) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """``count`` daemons named i1, i2 …, each logging to its own file; all ended on exit, however it exits."""
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for n in range(1, count + 1):
            name = f"i{n}"
            env = monitor_env(config) | {
                "MONITOR_INSTANCE_NAME": name, "MONITOR_HEARTBEAT_FILE": str(config.parent / f"heartbeat-{name}"),
            }
            log = (config.parent / f"{name}.log").open("wb")
            procs[name] = subprocess.Popen([sys.executable, "-m", "monitor", "run"], stderr=log,
                                           stdout=subprocess.DEVNULL, env=env, cwd=config.parent)
            log.close()
        yield procs
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)


class Db:
    def __init__(self, url: str):
        self.engine = create_db_engine(url)

    def one(self, sql: str, **params: object) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.text(sql), params).scalar() or 0)

    def ids(self, sql: str, **params: object) -> list[int]:
        with self.engine.connect() as conn:
            return [int(i) for i in conn.execute(sa.text(sql), params).scalars()]

    def polls_per_feed(self) -> Counter[int]:
        """Fetch-history rows (completed polls) of every feed, 0 included."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT f.id, count(l.id) FROM feed f LEFT JOIN fetch_log l ON l.feed_id = f.id GROUP BY f.id"
            ))
            return Counter({int(i): int(n) for i, n in rows})

    def close(self) -> None:
        self.engine.dispose()


def wait_for(condition: Callable[[], bool], timeout: float = 300, step: float = 0.05) -> float:
    """Wait (generously) for ``condition``; returns when it held (time.monotonic())."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(step)
    raise AssertionError(f"condition not reached within {timeout:.0f}s")


@dataclass
class RunFigures:
    instances: int
    pages: int
    listings: int  # entries in all the feeds (pages listed by two feeds count twice)
    page_requests: Counter[str]
    feed_requests: Counter[str]
    polls_per_feed: Counter[int]  # fetch-history rows per feed
    pollers: dict[str, int]  # instance → feeds it polled (from the log)
    articles: int
    sightings: int
    seconds: float

    def line(self) -> str:
        per_page = list(self.page_requests.values())
        polls = list(self.polls_per_feed.values())
        return (
            f"{self.instances} instance(s): {self.seconds:6.2f}s wall, page requests per page "
            f"min {min(per_page)} max {max(per_page)} (total {sum(per_page)} for {self.pages} pages listed "
            f"{self.listings} times), "
            f"polls per feed in one interval min {min(polls)} max {max(polls)}, articles {self.articles}, "
            f"sightings {self.sightings}, feeds per instance {dict(sorted(self.pollers.items()))}"
        )


def polled_by(folder: Path, names: list[str]) -> dict[str, int]:
    return {name: (folder / f"{name}.log").read_text(errors="replace").count("feed polled") for name in names}


def run_fleet(url: str, folder: Path, count: int, feeds: int = 24, entries: int = 5, delay: float = 0.05,
              lease: float = 30, shared: int = 0) -> RunFigures:
    """``count`` instances poll a fresh world on a fresh database until every article is stored."""
    reset_database(url)
    world = make_world(feeds, entries, delay, shared)
    db = Db(url)
    try:
        config = write_config(folder, url, lease)
        add_feeds(config, world.feeds)
        started = time.monotonic()
        with instances(config, count) as procs:
            done = wait_for(lambda: db.one("SELECT count(*) FROM fetch_log") >= feeds and
                            db.one("SELECT count(*) FROM article") >= len(world.pages))
            time.sleep(2)  # a feed polled twice would show up now: instances tick every 0.5 s
            names = list(procs)
        requests = world.requests()
        return RunFigures(
            instances=count, pages=len(world.pages), listings=world.listings,
            page_requests=Counter({p: requests[p] for p in world.pages}),
            feed_requests=Counter({f"/feed{f}.xml": requests[f"/feed{f}.xml"] for f in range(feeds)}),
            polls_per_feed=db.polls_per_feed(),
            pollers=polled_by(folder, names),
            articles=db.one("SELECT count(*) FROM article"), sightings=db.one("SELECT count(*) FROM article_source"),
            seconds=done - started,
        )
    finally:
        db.close()
        world.close()


@dataclass
class Takeover:
    lease: float
    victim_feeds: int  # feeds the killed instance had claimed and not finished
    first_taken: float  # seconds from the kill until another instance claimed one of them
    all_done: float  # seconds from the kill until every feed was polled and every article stored
    articles: int
    sightings: int
    pages: int
    polls_per_feed: Counter[int]

    def line(self) -> str:
        polls = list(self.polls_per_feed.values())
        return (
            f"kill -9 of one of 2 instances (lease {self.lease:g}s): its {self.victim_feeds} claimed feeds taken "
            f"over after {self.first_taken:.2f}s, everything done {self.all_done:.2f}s after the kill; articles "
            f"{self.articles}/{self.pages}, sightings {self.sightings}, polls per feed min {min(polls)} "
            f"max {max(polls)}"
        )


def run_takeover(url: str, folder: Path, feeds: int = 24, entries: int = 5, delay: float = 0.3,
                 lease: float = 4) -> Takeover:
    """Two instances; one is killed (SIGKILL) while it holds claims; the other finishes its work."""
    reset_database(url)
    world = make_world(feeds, entries, delay)
    db = Db(url)
    try:
        config = write_config(folder, url, lease)
        add_feeds(config, world.feeds)
        with instances(config, 2) as procs:
            wait_for(lambda: db.one("SELECT count(DISTINCT lease_owner) FROM feed") == 2 and
                     db.one("SELECT count(*) FROM article") >= 1)
            victim = "i1"
            procs[victim].kill()
            killed = time.monotonic()
            procs[victim].wait(timeout=30)
            orphaned = db.ids("SELECT id FROM feed WHERE lease_owner = :v", v=victim)
            taken = wait_for(lambda: db.one(
                "SELECT count(*) FROM feed WHERE id = ANY(:ids) AND (lease_owner = 'i2' OR last_polled_at IS NOT NULL)",
                ids=orphaned) > 0) if orphaned else killed
            done = wait_for(lambda: db.one("SELECT count(*) FROM feed WHERE last_polled_at IS NULL") == 0 and
                            db.one("SELECT count(*) FROM article") >= len(world.pages))
        return Takeover(
            lease=lease, victim_feeds=len(orphaned), first_taken=taken - killed, all_done=done - killed,
            articles=db.one("SELECT count(*) FROM article"), sightings=db.one("SELECT count(*) FROM article_source"),
            pages=len(world.pages), polls_per_feed=db.polls_per_feed(),
        )
    finally:
        db.close()
        world.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, help="a PostgreSQL URL; ITS PUBLIC SCHEMA IS DROPPED")
    parser.add_argument("--feeds", type=int, default=24)
    parser.add_argument("--entries", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds each page takes to answer")
    parser.add_argument("--lease", type=float, default=4, help="poll.lease of the takeover run")
    parser.add_argument("--shared", type=int, default=2, help="pages of each feed also listed by the previous one")
    args = parser.parse_args()
    for count in (1, 2, 3):
        with tempfile.TemporaryDirectory(prefix="monitor-instances-") as folder:
            figures = run_fleet(args.database, Path(folder), count, args.feeds, args.entries, args.delay,
                                shared=args.shared)
            print(figures.line(), flush=True)
    with tempfile.TemporaryDirectory(prefix="monitor-instances-") as folder:
        print(run_takeover(args.database, Path(folder), args.feeds, args.entries, lease=args.lease).line())


if __name__ == "__main__":
    main()
