"""PostgreSQL unreachable mid-ingest: `monitor run` ingests the 200-feed world through a loopback TCP proxy
(tests/tcpproxy.py) that, once ``--after`` articles are stored, drops every connection and resets new ones for
``--seconds`` (30), then forwards again.

    python -m benchmarks.outage --postgres postgresql+psycopg://postgres@127.0.0.1:5432/bench   # SCHEMA DROPPED

Prints what the daemon logged during the outage (warning and error lines, tracebacks), the connection attempts
it made while the database was away, how long after the database came back the daemon stored again and logged
"storage works again", and whether the ingest ended complete: every page of the world stored once, no feed in error.
Scratch files under benchmarks/.scratch/outage/.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import sqlalchemy as sa

from benchmarks.instances import Db, reset_database
from benchmarks.load import monitor_process, ok, wait_until
from benchmarks.run import SCRATCH, SMALL_WORLD, Server, log, register_feeds
from benchmarks.startup import monitor_env
from benchmarks.world import World, add_world_arguments
from tests.tcpproxy import TcpProxy

RECOVERED = "storage works again"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", required=True, help="a PostgreSQL URL; ITS PUBLIC SCHEMA IS DROPPED")
    parser.add_argument("--seconds", type=float, default=30, help="how long the database is unreachable")
    parser.add_argument("--after", type=int, default=300, help="articles stored when it goes away")
    parser.add_argument("--tick", type=float, default=5, help="poll.tick of the daemon: how often it tries again")
    parser.add_argument("--timeout", type=float, default=900, help="seconds the ingest may take")
    parser.add_argument("--scratch", type=Path, default=SCRATCH / "outage", help="its scratch folder (emptied)")
    add_world_arguments(parser, **SMALL_WORLD)
    args = parser.parse_args()
    shutil.rmtree(args.scratch, ignore_errors=True)
    args.scratch.mkdir(parents=True)
    spec = {"feeds": args.feeds, "hosts": args.hosts, "entries": args.entries, "pages": args.pages}
    url = sa.make_url(args.postgres)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    server = Server(args.seed, spec)
    daemon_log = args.scratch / "daemon.log"
    counts = Db(args.postgres)
    try:
        log(server.banner)
        world = World(args.seed, port=server.port, **spec)
        reset_database(args.postgres)
        register_feeds(args.postgres, [world.feed_url(f) for f in range(world.n_feeds)])
        via_proxy = url.set(host=proxy.host, port=proxy.port).render_as_string(hide_password=False)
        env = monitor_env(via_proxy, MONITOR_HEARTBEAT_FILE=str(args.scratch / "heartbeat"),
                          MONITOR_LOG_LEVEL="INFO", MONITOR_POLL_TICK=str(args.tick))
        with monitor_process(["run"], env, daemon_log) as daemon:
            wait_until(lambda: daemon.poll() is not None or counts.one("SELECT count(*) FROM article") >= args.after,
                       args.timeout, f"{args.after} articles stored")
            if daemon.poll() is not None:
                raise SystemExit(f"monitor run ended ({daemon.returncode}): see {daemon_log}")
            at_down, logged_before = counts.one("SELECT count(*) FROM article"), len(daemon_log.read_text())
            proxy.down()
            log(f"database unreachable for {args.seconds:g}s ({at_down} articles stored)")
            time.sleep(args.seconds)  # the outage itself: its length is what the benchmark is about
            refused, before_up = proxy.refused, counts.one("SELECT count(*) FROM article")
            proxy.up()
            back = time.monotonic()
            stored_again = wait_until(lambda: counts.one("SELECT count(*) FROM article") > before_up, args.timeout,
                                      "an article stored again") - back
            recovered = wait_until(lambda: RECOVERED in daemon_log.read_text()[logged_before:], args.timeout,
                                   "the recovery logged") - back
            wait_until(lambda: counts.one("SELECT count(*) FROM fetch_log") >= world.n_feeds, args.timeout,
                       "every feed polled")
            stored = counts.one("SELECT count(*) FROM article")
            sightings = counts.one("SELECT count(*) FROM article_source")
            distinct = counts.one("SELECT count(DISTINCT url) FROM article_source")
            in_error = counts.one("SELECT count(*) FROM feed WHERE error_count > 0 OR last_error IS NOT NULL")
    finally:
        counts.engine.dispose()
        server.close()
        proxy.close()
    text = daemon_log.read_text()
    said = [line for line in text[logged_before:].splitlines() if line.split()[1:2] in (["WARNING"], ["ERROR"])]
    print(f"\nworld: {spec}, seed {args.seed}; PostgreSQL through a loopback proxy; log {daemon_log}")
    print(f"outage: {args.seconds:g}s after {at_down} articles; {refused} connection attempts refused meanwhile")
    print(f"   warning/error lines logged from the outage on: {len(said)}; target 1 [{ok(len(said) == 1)}]")
    for line in said:
        print(f"      {line[:200]}")
    print(f"   tracebacks: {text.count('Traceback')}; target 0 [{ok('Traceback' not in text)}]")
    print(f"   after the database came back: the first article stored in {stored_again:.1f}s (the next tick: "
          f"poll.tick is {args.tick:g}s), '{RECOVERED}' logged in {recovered:.1f}s (when that cycle ended)")
    listed, entries = len({i for items in world.feed_items for i in items}), sum(map(len, world.feed_items))
    complete = stored == distinct == listed and sightings == entries
    print(f"   articles stored: {stored} of {listed} pages listed, {distinct} distinct URLs; sightings {sightings} "
          f"of {entries} feed entries (nothing lost, nothing twice) [{ok(complete)}]")
    print(f"   feeds in error: {in_error}; target 0 [{ok(in_error == 0)}]")


if __name__ == "__main__":
    main()
