"""Polite at scale (issue 25): 20,000 feeds on 500 loopback hosts, polled by 1, 2 and 4 `monitor run` instances on
one PostgreSQL sharing the feeds (leases), the pages (claims) and each host's request budget.

    python -m benchmarks.polite_scale --postgres postgresql+psycopg://postgres@127.0.0.1:5432/bench

THE DATABASE IS EMPTIED (its public schema dropped) before each run. The world (benchmarks/world.py, served by
benchmarks/server.py on 127.0.0.2 … 127.0.1.x) is one simulated day of news: each site publishes ``pages /
hosts`` stories, its section feeds list them (one page in several feeds). Each run registers every feed, starts
the instances and waits until every feed was polled once (a feed's poll is recorded only after every new entry
of it was stored). Printed per run: the time that took, page requests (how many pages were asked for twice),
each host's spacing as the server saw it (the closest two requests to one host against
``http.per_host_min_gap``, the most in flight against ``http.per_host_concurrency``), and the database's rows
per table and size for the day.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.instances import Db, instances, reset_database, wait_for, write_config
from benchmarks.run import Server, register_feeds
from benchmarks.world import World, add_world_arguments

TABLES = ("feed", "fetch_log", "article", "article_source", "article_tag", "statement", "story_band",
          "page_claim", "host_budget", "host_slot")
EPSILON = 0.02  # seconds: a host's closest two requests may be this much closer than the gap (timer resolution)


@dataclass
class Figures:
    instances: int
    feeds: int
    pages_listed: int
    seconds: float  # until every feed was polled once
    page_requests: int
    pages_asked_twice: int
    closest: float  # the closest two requests to one host, over every host
    broken_hosts: int  # hosts whose closest two requests were nearer than the gap
    most_at_once: int  # the most requests in flight to one host
    rows: dict[str, int]
    day_bytes: int  # database size after the day, less its size with the feeds alone

    def lines(self, gap: float, per_host: int) -> list[str]:
        rows = ", ".join(f"{table} {n:,}" for table, n in self.rows.items())
        return [
            f"{self.instances} instance(s): every one of {self.feeds:,} feeds polled once in {self.seconds:.1f}s "
            f"({self.feeds / self.seconds:.0f} feeds/s); {self.page_requests:,} page requests for "
            f"{self.pages_listed:,} pages listed, {self.pages_asked_twice} asked for twice",
            f"  host spacing: closest two requests to one host {self.closest:.3f}s (gap {gap:g}s), "
            f"{self.broken_hosts} host(s) below the gap; most in flight to one host {self.most_at_once} "
            f"(limit {per_host})",
            f"  the day in the database: {self.day_bytes / 2**20:.1f} MB; rows: {rows}",
        ]


def run(url: str, server: Server, world: World, count: int, args: argparse.Namespace) -> Figures:
    """``count`` instances poll every feed of the world once on an emptied database."""
    reset_database(url)
    server.get("/__reset")
    feeds = [world.feed_url(f) for f in range(world.n_feeds)]
    register_feeds(url, feeds)  # migrates, then one bulk insert
    db = Db(url)
    try:
        before = db.one("SELECT pg_database_size(current_database())")
        with tempfile.TemporaryDirectory(prefix="monitor-polite-") as folder:
            config = write_config(Path(folder), url, lease=args.lease, gap=args.gap, per_host=args.per_host,
                                  concurrent_feeds=args.concurrent_feeds)
            started = time.monotonic()
            with instances(config, count):
                done = wait_for(lambda: db.one("SELECT count(DISTINCT feed_id) FROM fetch_log") >= len(feeds),
                                timeout=args.timeout, step=1.0)
        stats: dict[str, Any] = server.get("/__stats")
        hosts = stats["hosts"].values()
        closest = [h["closest"] for h in hosts if h["closest"] is not None]
        return Figures(
            instances=count, feeds=len(feeds), pages_listed=len({i for items in world.feed_items for i in items}),
            seconds=done - started, page_requests=stats["counts"].get("page_200", 0),
            pages_asked_twice=stats["pages_asked_twice"], closest=min(closest, default=float("nan")),
            broken_hosts=sum(1 for c in closest if c < args.gap - EPSILON),
            most_at_once=max((h["most_at_once"] for h in hosts), default=0),
            rows={table: db.one(f"SELECT count(*) FROM {table}") for table in TABLES},
            day_bytes=db.one("SELECT pg_database_size(current_database())") - before,
        )
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", required=True, help="a PostgreSQL URL; ITS PUBLIC SCHEMA IS DROPPED")
    add_world_arguments(parser, feeds=20_000, hosts=500, entries=5, pages=5_000)
    parser.add_argument("--instances", default="1,2,4", help="instance counts to run, comma-separated")
    parser.add_argument("--gap", type=float, default=0.2, help="http.per_host_min_gap (seconds)")
    parser.add_argument("--per-host", type=int, default=2, help="http.per_host_concurrency")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds every host takes to answer")
    parser.add_argument("--concurrent-feeds", type=int, default=32, help="poll.max_concurrent_feeds")
    parser.add_argument("--lease", type=float, default=60, help="poll.lease (seconds)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds a run may take")
    args = parser.parse_args()
    spec = {"feeds": args.feeds, "hosts": args.hosts, "entries": args.entries, "pages": args.pages}
    world = World(args.seed, args.feeds, args.hosts, args.entries, args.pages)
    server = Server(args.seed, spec, "--delay", str(args.delay))
    world.port = server.port
    print(f"world: {args.feeds:,} feeds on {args.hosts} hosts, {args.entries} entries each, {args.pages:,} pages "
          f"(one simulated day); gap {args.gap:g}s, {args.per_host} per host, every answer {args.delay:g}s late",
          flush=True)
    try:
        for count in (int(n) for n in args.instances.split(",")):
            for line in run(args.postgres, server, world, count, args).lines(args.gap, args.per_host):
                print(line, flush=True)
    finally:
        server.close()


if __name__ == "__main__":
    main()
